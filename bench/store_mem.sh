#!/usr/bin/env bash
# bench/store_mem.sh — `extrace store` memory and isolation under one big
# request: peak and remaining RSS for one OTLP/HTTP request of SPANS tiny
# spans, and /api/echo latency while it is stored vs idle.
#
# Writes one ExportTraceServiceRequest of SPANS spans (10 per trace, name
# "s", no attributes: ~52 bytes a span) with a small C program compiled
# against the build's library, starts the store on a fresh data dir, times
# 50 idle /api/echo calls (curl, one at a time), then POSTs the request
# with curl while calling /api/echo every 20 ms until the POST is answered.
# Prints the store's RSS before, its peak (VmHWM) and after, the ingest
# time (wall clock, and the store's CPU time, steadier on a shared
# machine), and echo latency percentiles idle / during ingest. With
# BEFORE=<an older extrace binary> the same runs against it first, so the
# two are compared in one go on the same machine.
#   BUILD=build SPANS=1000000 [BEFORE=/path/to/old/extrace] bench/store_mem.sh
# With UPLOADS=N it instead posts the request N times at once (curl, one
# connection each) and prints the RSS peak and the answers' status codes:
#   UPLOADS=30 SPANS=1150000 [BEFORE=…] bench/store_mem.sh   # 30 × ~60 MB
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
spans=${SPANS:-1000000}
work=$(mktemp -d)
store_pid=
cleanup() { [ -n "$store_pid" ] && kill "$store_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kib() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$store_pid/status"; }
pct() { # percentile list of ms values on stdin: p50 p99 max
  sort -n | awk '{v[NR]=$1} END {if (!NR) {print "-"; exit}
    printf "p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d calls)", v[int((NR+1)*0.5)], v[int((NR-1)*0.99)+1], v[NR], NR}'
}

cat >"$work/gen.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "otel/otlp_proto.h"
int main(int argc, char **argv)
{
    size_t n = strtoul(argv[1], NULL, 10);
    exo_pb_span *spans = calloc(n, sizeof *spans), **sp = calloc(n, sizeof *sp);
    uint8_t (*ids)[24] = calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        opentelemetry__proto__trace__v1__span__init(&spans[i]);
        size_t t = i / 10;
        ids[i][0] = 0xbe, ids[i][12] = t >> 24, ids[i][13] = t >> 16, ids[i][14] = t >> 8, ids[i][15] = t;
        ids[i][16] = 1, ids[i][21] = i >> 16, ids[i][22] = i >> 8, ids[i][23] = i;
        spans[i].trace_id = (ProtobufCBinaryData){16, ids[i]};
        spans[i].span_id = (ProtobufCBinaryData){8, ids[i] + 16};
        spans[i].name = "s";
        spans[i].start_time_unix_nano = 1700000000000000000ull + i;
        spans[i].end_time_unix_nano = 1700000000000001000ull + i;
        sp[i] = &spans[i];
    }
    exo_pb_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT, *ssp[1] = {&ss};
    ss.n_spans = n, ss.spans = sp;
    exo_pb_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT, *rsp[1] = {&rs};
    rs.n_scope_spans = 1, rs.scope_spans = ssp;
    exo_pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.n_resource_spans = 1, req.resource_spans = rsp;
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = malloc(len);
    protobuf_c_message_pack(&req.base, buf);
    fwrite(buf, 1, len, stdout);
    return 0;
}
C
cc -O2 -D_GNU_SOURCE -I"$root/src" -I"$build/proto-gen" "$work/gen.c" "$build/libextrace_lib.a" \
  $(pkg-config --libs libuv libcurl hiredis jansson yajl libmicrohttpd libprotobuf-c libnghttp2 sqlite3 libxxhash zlib libzstd) \
  -lm -o "$work/gen"
"$work/gen" "$spans" >"$work/req.bin"
echo "request: $spans spans, $(stat -c %s "$work/req.bin") bytes"

start_store() { # binary: a store on a fresh data dir, ports in q and h (the caller's locals), ready
  q=$(free_port) h=$(free_port)
  rm -rf "$work/data"
  "$1" store --data-dir "$work/data" --otlp-http-listen "127.0.0.1:$h" --otlp-grpc-listen "127.0.0.1:0" \
    --http-listen "127.0.0.1:$q" --log-level warn >"$work/store.log" 2>&1 &
  store_pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$q/ready" && break; sleep 0.1; done
}

run() { # label, binary
  local label=$1 bin=$2 q h
  start_store "$bin"
  for _ in $(seq 50); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$q/api/echo"; done |
    awk '{print $1 * 1000}' >"$work/idle.txt"
  local before t0 t1
  before=$(kib VmRSS)
  t0=$(date +%s.%N)
  curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/x-protobuf' \
    --data-binary @"$work/req.bin" "http://127.0.0.1:$h/v1/traces" >"$work/post.txt" &
  local post=$!
  : >"$work/busy.txt"
  while kill -0 "$post" 2>/dev/null; do
    curl -s -o /dev/null -m 120 -w '%{time_total}\n' "http://127.0.0.1:$q/api/echo" | awk '{print $1 * 1000}' \
      >>"$work/busy.txt"
    sleep 0.02
  done
  wait "$post"
  t1=$(date +%s.%N)
  sleep 1
  local cpu
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$store_pid/stat")
  echo "$label: POST answered $(cat "$work/post.txt") in $(echo "$t1 - $t0" | bc) s ($cpu CPU-seconds of the store);" \
    "RSS $((before / 1024)) MiB before, peak $(($(kib VmHWM) / 1024)) MiB, after $(($(kib VmRSS) / 1024)) MiB"
  echo "$label: /api/echo idle: $(pct <"$work/idle.txt")"
  echo "$label: /api/echo during the ingest: $(pct <"$work/busy.txt")"
  kill "$store_pid"
  wait "$store_pid" || true
  store_pid=
}

uploads() { # label, binary: UPLOADS copies of the request at once
  local label=$1 bin=$2 q h before
  start_store "$bin"
  before=$(kib VmRSS)
  for _ in $(seq "$UPLOADS"); do
    curl -s -o /dev/null -m 600 -w '%{http_code}\n' -H 'Content-Type: application/x-protobuf' \
      --data-binary @"$work/req.bin" "http://127.0.0.1:$h/v1/traces" &
  done >"$work/codes.txt"
  wait $(jobs -p | grep -vx "$store_pid")
  echo "$label: $UPLOADS uploads at once answered $(sort "$work/codes.txt" | uniq -c | awk '{printf "%s×%s ", $1, $2}');" \
    "RSS $((before / 1024)) MiB before, peak $(($(kib VmHWM) / 1024)) MiB, after $(($(kib VmRSS) / 1024)) MiB"
  kill "$store_pid"
  wait "$store_pid" || true
  store_pid=
}

if [ -n "${UPLOADS:-}" ]; then
  [ -n "${BEFORE:-}" ] && uploads before "$BEFORE"
  uploads after "$build/extrace"
  exit 0
fi
[ -n "${BEFORE:-}" ] && run before "$BEFORE"
run after "$build/extrace"
