#!/usr/bin/env bash
# bench/export.sh — the exporter against the OpenTelemetry JS SDK, in the
# same run: WORKFLOWS workflow-shaped traces (a root and three stages;
# every fifth fails early: 3.8 spans per workflow) made and exported over
# OTLP/gRPC (PROTOCOL=http: http/protobuf) to tests/node/receiver.js,
# by bench/export_load.c (exo_spans through the export pipeline) and by
# bench/export_peer.js (the SDK's BasicTracerProvider + BatchSpanProcessor
# + OTLP exporter), both in batches of 512 with a flush every 128
# workflows. Each side also runs "build" (spans made, not exported).
# CPU is user + system of the exporting process only (the receiver is
# another process). Per run it prints spans per CPU-second end to end,
# the exporter's own µs per span ((export CPU - build CPU) / spans), and
# the ratios C / JS; then the direct encoder against protobuf-c's packing.
#   BUILD=build WORKFLOWS=50000 RUNS=3 bench/export.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
workflows=${WORKFLOWS:-50000}
runs=${RUNS:-3}
protocol=${PROTOCOL:-grpc}

. "$here/lib.sh"
cc -O2 -g -D_GNU_SOURCE -I"$root/src" -I"$build/proto-gen" "$here/export_load.c" "$build/libextrace_lib.a" \
  $(pkg-config --libs libuv libcurl hiredis jansson yajl libmicrohttpd libprotobuf-c libnghttp2 sqlite3 libxxhash zlib libzstd \
    yaml-0.1 libcrypto) -ljq -lm -o "$work/export_load"

node "$root/tests/node/receiver.js" --grpc-port 0 --http-port 0 --out /dev/null >"$work/recv.out" 2>"$work/recv.log" &
server=$!
for _ in $(seq 600); do
  grep -q ready "$work/recv.out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/recv.log" >&2; exit 1; }
  sleep 0.05
done
grpc_port=$(sed -n 's/.*grpc on 127.0.0.1:\([0-9]*\),.*/\1/p' "$work/recv.log" | head -1)
http_port=$(sed -n 's/.*http on 127.0.0.1:\([0-9]*\),.*/\1/p' "$work/recv.log" | head -1)
if [ "$protocol" = grpc ]; then
  endpoint=http://127.0.0.1:$grpc_port
  c_env=(OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint)
else
  endpoint=http://127.0.0.1:$http_port
  c_env=(OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint)
fi
c_env+=(OTEL_TRACES_EXPORTER=otlp OTEL_SERVICE_NAME=Tracing.Worker OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512)

field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
echo "protocol $protocol, $workflows workflows per run, receiver pid $server"
printf '%-4s %12s %12s %10s %10s %8s %8s\n' run C_spans/cpu-s JS_spans/cpu-s C_us/span JS_us/span e2e_x exp_x
for r in $(seq "$runs"); do
  cb=$("${pin_client[@]}" env "${c_env[@]}" "$work/export_load" build "$workflows")
  ce=$("${pin_client[@]}" env "${c_env[@]}" "$work/export_load" export "$workflows")
  jb=$("${pin_client[@]}" node "$here/export_peer.js" build "$workflows")
  je=$("${pin_client[@]}" node "$here/export_peer.js" export "$workflows" --endpoint "$endpoint" --protocol "$protocol")
  echo "$cb" >>"$work/runs.jsonl"; echo "$ce" >>"$work/runs.jsonl"; echo "$jb" >>"$work/runs.jsonl"; echo "$je" >>"$work/runs.jsonl"
  awk -v r="$r" -v cs="$(echo "$ce" | field spans)" -v cc="$(echo "$ce" | field cpu)" -v cbc="$(echo "$cb" | field cpu)" \
      -v js="$(echo "$je" | field spans)" -v jc="$(echo "$je" | field cpu)" -v jbc="$(echo "$jb" | field cpu)" 'BEGIN {
    ce = cs / cc; je = js / jc; cx = (cc - cbc) * 1e6 / cs; jx = (jc - jbc) * 1e6 / js;
    printf "%-4s %12.0f %12.0f %10.2f %10.2f %8.2f %8.2f\n", r, ce, je, cx, jx, ce / je, jx / cx }'
done
echo "(C build: $(grep '"build"' "$work/runs.jsonl" | head -1))"
echo "(JS export: $(grep '"export"' "$work/runs.jsonl" | tail -1))"
"${pin_client[@]}" "$work/export_load" encode "$workflows"
