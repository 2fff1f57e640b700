#!/usr/bin/env bash
# bench/metrics.sh — TraceQL metrics over a day of workflows: how long
# /api/metrics/query_range takes for "rate by status" and "p90 by stage"
# at a 1-minute step over 24 hours (p90 by stage as the "Workflow
# analytics" dashboard asks it, and with an attribute filter), the first
# two also with engine=compact, and /api/metrics/summary.
#
# Loads WORKFLOWS workflow traces (a root and three stages each: 4 spans)
# spread over the 24 hours before now straight into a fresh data dir with
# bench/metrics_load.c (the store's own writer, sdb_ingest; no HTTP), or
# reuses DATA=<dir> loaded by an earlier run. Then starts `extrace store`
# on it (--retention 48h so nothing is removed, --query-timeout 10m so
# nothing is cut short) pinned to CPU 0 and times each query REPEAT times
# with curl from CPU 1, printing seconds, the engine that answered
# (X-Extrace-Engine: compact = the compact span table, scan = whole
# traces), series and inspected spans. PEER=n also times each query n
# times with engine=scan, the trace scan, as the peer on the same data.
#   BUILD=build WORKFLOWS=1000000 REPEAT=3 bench/metrics.sh
#   DATA=/tmp/mbench/data bench/metrics.sh        # reuse a loaded dir
#   WORKFLOWS=100000 PEER=1 bench/metrics.sh      # with the scan as peer
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
workflows=${WORKFLOWS:-1000000}
repeat=${REPEAT:-3}
peer=${PEER:-0} # runs of each query with engine=scan (whole traces), the peer

. "$here/lib.sh"
data=${DATA:-}
if [ -z "$data" ]; then
  data=$work/data
  cc -O2 -D_GNU_SOURCE -I"$root/src" -I"$build/proto-gen" "$here/metrics_load.c" "$build/libextrace_lib.a" \
    $(pkg-config --libs libuv libcurl hiredis jansson yajl libmicrohttpd libprotobuf-c libnghttp2 sqlite3 libxxhash zlib libzstd) \
    -lm -o "$work/metrics_load"
  t0=$(date +%s.%N)
  "${pin_server[@]}" "$work/metrics_load" "$data" "$workflows"
  echo "loaded $workflows workflows ($((workflows * 4)) spans) in $(echo "$(date +%s.%N) - $t0" | bc) s;" \
    "database $(du -m "$data/traces.db" | cut -f1) MB"
fi

query=$(free_port) otlp=$(free_port) grpc=$(free_port)
"${pin_server[@]}" "$build/extrace" store --data-dir "$data" --log-level warn --retention 48h --query-timeout 10m \
  --otlp-grpc-listen "127.0.0.1:$grpc" --otlp-http-listen "127.0.0.1:$otlp" --http-listen "127.0.0.1:$query" \
  >>"$work/store.log" 2>&1 &
server=$!
t0=$(date +%s.%N)
for _ in $(seq 6000); do # opening a large database takes a while
  curl -fs "http://127.0.0.1:$query/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/store.log" >&2; exit 1; }
  sleep 0.05
done
echo "store ready after $(echo "$(date +%s.%N) - $t0" | bc) s"

now=$(date +%s)
start=$((now - 86400))
run() { # label, path, then curl --data-urlencode arguments
  local label=$1 path=$2 runs=$repeat
  shift 2
  [ "$label" != "${label% (scan)}" ] && runs=$peer
  for i in $(seq "$runs"); do
    local t
    t=$("${pin_client[@]}" curl -fsS -D "$work/headers" -o "$work/out.json" -w '%{time_total}' -G \
      "http://127.0.0.1:$query$path" "$@")
    echo "$label (run $i): ${t} s, engine $(tr -d '\r' <"$work/headers" | sed -n 's/^[Xx]-[Ee]xtrace-[Ee]ngine: //p')," \
      "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
s=d.get("series", d.get("summaries", [])); m=d.get("metrics", {})
print(len(s), "series,", m.get("inspectedSpans", "-"), "spans inspected", m.get("message", ""))' "$work/out.json")"
  done
}
stages='{ resource.service.name = "Tracing.Worker" && name != "Workflow" } | quantile_over_time(duration, .9) by (name)'
two() { # the rate and the p90 by stage with engine $1, labels ending in $2
  run "rate by status, 24h, step 1m$2" /api/metrics/query_range \
    --data-urlencode 'q={ name = "Workflow" } | rate() by (status)' --data-urlencode "engine=$1" \
    --data-urlencode "start=$start" --data-urlencode "end=$now" --data-urlencode step=1m
  run "p90 by stage, 24h, step 1m$2" /api/metrics/query_range --data-urlencode "q=$stages" --data-urlencode "engine=$1" \
    --data-urlencode "start=$start" --data-urlencode "end=$now" --data-urlencode step=1m
}
for engine in auto scan; do
  [ "$engine" = scan ] && { [ "$peer" -gt 0 ] || break; }
  tag=${engine/auto/}
  two "$engine" "${tag:+ (scan)}"
  [ "$engine" = auto ] && two compact ", engine=compact" # the same two without the per-minute counts
  run "p90 by stage attribute (span.type), 24h, step 1m${tag:+ (scan)}" /api/metrics/query_range \
    --data-urlencode 'q={ span.type != nil } | quantile_over_time(duration, .9) by (name)' --data-urlencode "engine=$engine" \
    --data-urlencode "start=$start" --data-urlencode "end=$now" --data-urlencode step=1m
  run "summary groupBy name, 24h${tag:+ (scan)}" /api/metrics/summary --data-urlencode "engine=$engine" \
    --data-urlencode 'q={}' --data-urlencode groupBy=name --data-urlencode "start=$start" --data-urlencode "end=$now"
done
