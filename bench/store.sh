#!/usr/bin/env bash
# bench/store.sh — `extrace store`: ingest rate, bytes on disk per span,
# trace-by-id and search latency.
#
# Starts the store pinned to CPU 0 on a fresh data dir, sends SPANS spans
# of workflow-shaped traces (tests/otel-js/load.js: OTLP/HTTP protobuf,
# CONCURRENCY requests in flight, pinned to CPU 1), then GRPC_SPANS more
# over OTLP/gRPC; prints spans/s (wall clock) and spans per CPU-second of
# the store. Stops the store (SIGTERM: the WAL is checkpointed and
# removed) and prints the file size per span with a per-table breakdown.
# Then compiles a small C program against the build's library that times
# the reader API directly (sdb_trace_get for the sampled ids, and
# sdb_traces_by_attr for their roots' workflowId attributes).
# Restarts the store and runs wrk (1 connection, pinned to CPU 1) against
# GET /api/traces/<id> over 1000 sampled ids (JSON and protobuf) and
# against a few /api/search queries, printing latency percentiles.
# First, the peer: tests/node/receiver.js (a Node.js OTLP receiver on the
# OpenTelemetry JS protobuf definitions that appends each span as a JSON
# line) pinned to CPU 0 takes PEER_SPANS spans over each protocol the same
# way, and its spans per CPU-second are printed next to the store's.
#   BUILD=build SPANS=1000000 GRPC_SPANS=200000 PEER_SPANS=200000 CONCURRENCY=8 DURATION=10s bench/store.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
spans=${SPANS:-1000000}
grpc_spans=${GRPC_SPANS:-200000}
peer_spans=${PEER_SPANS:-200000}
concurrency=${CONCURRENCY:-8}
duration=${DURATION:-10s}
js=$root/tests/otel-js

. "$here/lib.sh"
command -v wrk >/dev/null || { echo "bench/store.sh: wrk not found (scripts/install-deps installs it)" >&2; exit 1; }
[ -d "$js/node_modules/@opentelemetry/sdk-trace-base" ] ||
  { echo "bench/store.sh: run 'npm ci' in tests/otel-js first" >&2; exit 1; }

grpc=$(free_port) http=$(free_port) query=$(free_port)
start_store() {
  "${pin_server[@]}" "$build/extrace" store --data-dir "$work/data" --log-level warn \
    --otlp-grpc-listen "127.0.0.1:$grpc" --otlp-http-listen "127.0.0.1:$http" --http-listen "127.0.0.1:$query" \
    >>"$work/store.log" 2>&1 &
  server=$!
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$query/ready" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "bench/store.sh: the store did not start:" >&2
  cat "$work/store.log" >&2
  exit 1
}
stop_store() { kill -TERM "$server"; wait "$server" || true; server=; }
cpu_seconds() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
# spans per CPU-second of process $1 for a load.js run: $2 label, then load.js arguments
ingest() {
  local pid=$1 label=$2 c0 c1 out n
  shift 2
  c0=$(cpu_seconds "$pid")
  out=$("${pin_client[@]}" node "$js/load.js" --concurrency "$concurrency" "$@")
  c1=$(cpu_seconds "$pid")
  n=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spans"])')
  echo "$label: $out"
  echo "  CPU: $(echo "$c0 $c1 $n" | awk '{printf "%.2f s, %d spans per CPU-second", $2-$1, $3/($2-$1)}')"
}
if [ "$peer_spans" -gt 0 ]; then
  pg=$(free_port) ph=$(free_port)
  "${pin_server[@]}" node "$root/tests/node/receiver.js" --grpc-port "$pg" --http-port "$ph" --out "$work/peer.jsonl" \
    >"$work/peer.out" 2>"$work/peer.log" &
  server=$!
  for _ in $(seq 200); do grep -q ready "$work/peer.out" && break; sleep 0.05; done
  ingest "$server" "peer (Node receiver → JSONL) OTLP/HTTP" --protocol http --endpoint "http://127.0.0.1:$ph/v1/traces" \
    --spans "$peer_spans"
  ingest "$server" "peer (Node receiver → JSONL) OTLP/gRPC" --protocol grpc --endpoint "http://127.0.0.1:$pg" \
    --spans "$peer_spans"
  kill -TERM "$server"; wait "$server" 2>/dev/null || true; server=
  rm -f "$work/peer.jsonl"
fi
start_store
c0=$(cpu_seconds "$server")
out=$("${pin_client[@]}" node "$js/load.js" --protocol http --endpoint "http://127.0.0.1:$http/v1/traces" \
  --spans "$spans" --concurrency "$concurrency" --ids "$work/ids.txt" --sample 1000)
c1=$(cpu_seconds "$server")
n_http=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spans"])')
echo "ingest OTLP/HTTP: $out"
echo "  store CPU: $(echo "$c0 $c1 $n_http" | awk '{printf "%.2f s, %d spans per CPU-second", $2-$1, $3/($2-$1)}')"
out=$("${pin_client[@]}" node "$js/load.js" --protocol grpc --endpoint "http://127.0.0.1:$grpc" \
  --spans "$grpc_spans" --concurrency "$concurrency" --tenant bench-grpc)
c2=$(cpu_seconds "$server")
n_grpc=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["spans"])')
echo "ingest OTLP/gRPC: $out"
echo "  store CPU: $(echo "$c1 $c2 $n_grpc" | awk '{printf "%.2f s, %d spans per CPU-second", $2-$1, $3/($2-$1)}')"
stop_store

db=$work/data/traces.db
total=$((n_http + n_grpc))
bytes=$(stat -c %s "$db")
echo "on disk: $bytes bytes for $total spans = $((bytes / total)) bytes/span (WAL: $(ls "$work/data" | tr '\n' ' '))"
sqlite3 "$db" "SELECT name, sum(pgsize) AS bytes, printf('%.1f', sum(pgsize) * 1.0 / $total) AS per_span
               FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 8;" | sed 's/^/  /'
sqlite3 "$db" "SELECT 'span body: ' || printf('%.0f', avg(length(body))) || ' bytes on average' FROM spans;" | sed 's/^/  /'

cat >"$work/lookup.c" <<'C'
/* Times the reader API on the bench database: argv[1] = data dir,
 * argv[2] = file of trace ids (hex, one per line). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store/db.h"
static double now_us(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static int count_cb(void *arg, const sdb_trace_summary *s) { ++*(long *)arg; return 0; }
static void report(const char *what, double *v, int n)
{
    qsort(v, n, sizeof *v, cmp);
    printf("%s (reader API, %d calls): p50 %.0f us, p99 %.0f us, max %.0f us\n", what, n, v[n / 2], v[n * 99 / 100], v[n - 1]);
}
int main(int argc, char **argv)
{
    char err[512], line[64];
    sdb *db = sdb_open(argv[1], err, sizeof err);
    if (!db) { fprintf(stderr, "%s\n", err); return 1; }
    FILE *f = fopen(argv[2], "r");
    static double byid[1000], byattr[1000];
    int n = 0, m = 0;
    while (n < 1000 && fgets(line, sizeof line, f)) {
        uint8_t id[16];
        for (int i = 0; i < 16; i++) sscanf(line + 2 * i, "%2hhx", &id[i]);
        sdb_trace *t;
        double t0 = now_us();
        if (sdb_trace_get(db, NULL, id, &t) != 1) { fprintf(stderr, "trace %.32s missing\n", line); return 1; }
        byid[n++] = now_us() - t0;
        for (size_t i = 0; i < t->nspans; i++) {
            const exo_pb_span *s = t->spans[i].span;
            if (s->parent_span_id.len || !s->n_attributes) continue;
            const char *wf = s->attributes[0]->value->string_value; /* workflowId */
            sdb_trace_query q = {.limit = 20};
            long hits = 0;
            t0 = now_us();
            sdb_traces_by_attr(db, NULL, "workflowId", wf, strlen(wf), &q, count_cb, &hits);
            if (m < 200) byattr[m++] = now_us() - t0;
            if (hits != 1) { fprintf(stderr, "workflowId %s: %ld traces\n", wf, hits); return 1; }
        }
        sdb_trace_free(t);
    }
    report("trace by id", byid, n);
    report("traces by workflowId", byattr, m);
    sdb_close(db);
    return 0;
}
C
cc -O2 -D_GNU_SOURCE -I"$root/src" -I"$build/proto-gen" "$work/lookup.c" "$build/libextrace_lib.a" \
  $(pkg-config --libs libuv libcurl hiredis jansson yajl libmicrohttpd libprotobuf-c libnghttp2 sqlite3 libxxhash zlib libzstd) \
  -lm -o "$work/lookup"
"${pin_client[@]}" "$work/lookup" "$work/data" "$work/ids.txt"

start_store
cat >"$work/byid.lua" <<LUA
local ids, i = {}, 0
for line in io.lines("$work/ids.txt") do ids[#ids + 1] = line end
local accept = os.getenv("ACCEPT") or "application/json"
request = function()
  i = i % #ids + 1
  return wrk.format("GET", "/api/traces/" .. ids[i], {["Accept"] = accept})
end
LUA
latency() { # label, then wrk arguments
  local label=$1
  shift
  local r
  r=$("${pin_client[@]}" wrk -t1 -c1 -d"$duration" --latency "$@")
  echo "$label: $(echo "$r" | awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$4}
    END {printf "p50 %s, p99 %s, %s req/s%s", p50, p99, rps, bad ? ", NON-2xx: " bad : ""}')"
}
q=http://127.0.0.1:$query
latency "trace by id (JSON)" -s "$work/byid.lua" "$q"
ACCEPT=application/protobuf latency "trace by id (protobuf)" -s "$work/byid.lua" "$q"
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
latency "tag values service.name" "$q/api/search/tag/service.name/values"
latency "search {} limit 20" "$q/api/search?q=$(enc '{}')&limit=20"
latency "search root Workflow limit 20" \
  "$q/api/search?q=$(enc '{resource.service.name="Tracing.Worker" && name="Workflow"}')&limit=20"
latency "search status=error limit 20" "$q/api/search?q=$(enc '{status=error}')&limit=20"
latency "search workflowId (no match; Bloom filters)" \
  "$q/api/search?q=$(enc '{span.workflowId="no-such-workflow"}')&limit=20&start=$(( $(date +%s) - 4 * 3600 ))&end=$(date +%s)"
stop_store
