#!/usr/bin/env bash
# bench/live.sh — what the worker's live API costs with many workflows in
# flight (not a test).
#
# A redis-server, `extrace api` and `OTEL_TRACES_EXPORTER=none extrace
# worker --initial-delay 1h` (every workflow stays idle in the schedule),
# N workflows (default 100,000) published with `extrace generate`. Then:
#   list:   wrk -t1 -c1 for D seconds (default 5) on /healthz of the same
#           admin listener (the floor: one request, no work), then on
#           /api/workflows?limit=100, ?limit=1000 and a page deep in the
#           list (a cursor past half of it): requests/s and mean latency,
#           with the body size.
#   stream: M more workflows (default 20,000) published at RATE/s (default
#           5,000): each is one "watch" change. Once with no stream client,
#           once with C (default 10) clients reading /api/workflows/stream
#           (bench/live_sse.py: each message's delay from the change's
#           "time" to its arrival); the worker's extra CPU per change
#           between the two runs, and the delays' percentiles.
# Knobs: BUILD, N, M, RATE, C, D.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
bin=$build/extrace
n=${N:-100000}
m=${M:-20000}
rate=${RATE:-5000}
clients=${C:-10}
dur=${D:-5}
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
for tool in redis-server curl python3 wrk; do
  command -v "$tool" >/dev/null || { echo "bench/live.sh: $tool not found" >&2; exit 1; }
done

pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

wait_http() { for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
metric() { curl -fs "http://127.0.0.1:$admin/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_in_flight() {
  for _ in $(seq 1200); do
    [ "$(metric extrace_workflows_in_flight)" = "$1" ] && return 0
    sleep 0.1
  done
  echo "bench/live.sh: only $(metric extrace_workflows_in_flight) of $1 in flight" >&2
  return 1
}

start_stack() {
  rport=$(free_port) aport=$(free_port) admin=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
  pids+=($!)
  "$bin" api --listen "127.0.0.1:$aport" --seed 1 --log-level warn >"$work/api.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$aport/healthz"
  OTEL_TRACES_EXPORTER=none "${pin_server[@]}" "$bin" worker --redis "127.0.0.1:$rport" \
    --api-url "http://127.0.0.1:$aport" --admin-listen "127.0.0.1:$admin" --log-level warn \
    --initial-delay 1h --timeout 2h --max-workflows $((n + 2 * m + 1000)) >"$work/worker.log" 2>&1 &
  worker=$!
  pids+=($worker)
  wait_http "http://127.0.0.1:$admin/readyz"
  "$bin" generate --redis "127.0.0.1:$rport" --rate 20000 --count "$n" --log-level warn
  wait_in_flight "$n"
}

# wrk on one URL: "<req/s> req/s, <latency>"
bench_url() {
  local out
  out=$("${pin_client[@]}" wrk -t1 -c1 -d"${dur}s" --latency "$1")
  local rps lat p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  lat=$(awk '$1 == "Latency" {print $2; exit}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local bytes
  bytes=$(curl -fs "$1" | wc -c)
  printf '  %-58s %9s req/s  mean %8s  p99 %8s  %9d bytes\n' "${1#http://127.0.0.1:$admin}" "$rps" "$lat" "$p99" "$bytes"
}

bench_list() {
  echo "list: $n workflows in flight, wrk -t1 -c1 -d${dur}s each"
  bench_url "http://127.0.0.1:$admin/healthz"
  bench_url "http://127.0.0.1:$admin/api/workflows?limit=100"
  bench_url "http://127.0.0.1:$admin/api/workflows?limit=1000"
  local cursor
  cursor=$(curl -fs "http://127.0.0.1:$admin/api/workflows?limit=1000" | python3 -c '
import json, sys, urllib.request
url = sys.argv[1]
page = json.load(sys.stdin)
for _ in range(int(sys.argv[2]) // 2000):   # half way through, 1000 at a time
    page = json.load(urllib.request.urlopen(url + "&cursor=" + page["next"]))
print(page["next"])' "http://127.0.0.1:$admin/api/workflows?limit=1000" "$n")
  bench_url "http://127.0.0.1:$admin/api/workflows?limit=100&cursor=$cursor"
  bench_url "http://127.0.0.1:$admin/api/workflows?status=running&limit=100"
}

# One stream run with $1 clients: the worker's CPU ticks over M watches into $ticks.
stream_run() {
  local k=$1 cpids=() base
  base=$(metric extrace_live_stream_messages_total)
  for i in $(seq "$k"); do
    "${pin_client[@]}" python3 "$here/live_sse.py" "http://127.0.0.1:$admin/api/workflows/stream" "$m" \
      >"$work/sse.$k.$i" 2>&1 &
    cpids+=($!)
  done
  for _ in $(seq 100); do [ "$(metric extrace_live_stream_clients)" = "$k" ] && break; sleep 0.05; done
  local t0 t1
  t0=$(cpu_ticks "$worker")
  "$bin" generate --redis "127.0.0.1:$rport" --rate "$rate" --count "$m" --log-level warn
  wait_in_flight $((n + m * $2))
  t1=$(cpu_ticks "$worker")
  for p in "${cpids[@]}"; do wait "$p" || true; done
  ticks=$((t1 - t0))
  msgs=$(( $(metric extrace_live_stream_messages_total) - base ))
}

bench_stream() {
  local hz
  hz=$(getconf CLK_TCK)
  stream_run 0 1
  local t0=$ticks
  stream_run "$clients" 2
  local t10=$ticks
  echo "stream: $m watches at $rate/s on top of $n in flight ($msgs changes numbered in the second run)"
  echo "  worker CPU: $((t0 * 1000 / hz)) ms with no client, $((t10 * 1000 / hz)) ms with $clients clients:" \
       "$(( (t10 - t0) * 1000000 / hz / m )) µs more per change ($(( (t10 - t0) * 1000000 / hz / m / clients )) µs per change per client)"
  cat "$work"/sse."$clients".* | python3 -c '
import sys
d = sorted(float(l.split()[1]) for l in sys.stdin if l.startswith("delay_ms "))
got = sum(1 for _ in d)
if not d: print("  no delays measured"); sys.exit()
q = lambda p: d[min(len(d) - 1, int(p * len(d)))]
print(f"  delivery: {got} messages to all clients; delay change -> client p50 {q(.5):.2f} ms, p99 {q(.99):.2f} ms, max {d[-1]:.2f} ms")'
  echo "  dropped clients: $(metric extrace_live_stream_clients_dropped_total)"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), build $build"
start_stack
bench_list
bench_stream
