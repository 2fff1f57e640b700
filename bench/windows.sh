#!/usr/bin/env bash
# bench/windows.sh — how truthful the worker's times are (not a test).
#
# For each advance mode of `extrace api` (on-poll, on-time) and each poll
# interval (default 100ms and 20ms), and once more on time with the
# worker's --processing-times: redis-server, `extrace api --time-scale 600
# --seed 1 --expose-plan --advance MODE`, the Node OTLP receiver
# (tests/node/receiver.js), `extrace worker --interval I` and `extrace
# generate` publishing N workflows (default 100). When every trace is in,
# each workflow's spans are compared with the simulator's own record
# (GET /debug/plan/{id}: when it planned and when it made each change):
#
#   windows   Processing events the API gives no time for (time_source
#             poll): how many, how many do NOT hold the real change
#             (observed_after_unix_nano <= change <= observed_before_unix_nano),
#             and the window width (median, p99, max);
#   stamp     |event time - real change| of every Processing event (ms);
#   end lag   stage end reported by the API (the span's end) minus its
#             planned end (ms of real time; x600 for simulated time).
#
# Knobs: BUILD, N, INTERVALS ("100ms 20ms"), LOAD=1 (a busy process pinned
# beside the worker for the run). Needs redis-server, node, curl, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
bin=$build/extrace
n=${N:-100}
intervals=${INTERVALS:-100ms 20ms}
load=${LOAD:-0}

for tool in redis-server node curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/windows.sh: $tool not found" >&2; exit 1; }
done
if [ ! -x "$bin" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc)" --target extrace >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

work=$(mktemp -d)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
wait_port "$redis_port"

# One run: $1 advance mode, $2 interval, $3 extra worker flag (or "").
run() {
  local mode=$1 interval=$2 extra=$3 dir=$work/$1-$2${3:+-pt}
  mkdir -p "$dir"
  local api_port grpc_port http_port admin_port
  api_port=$(free_port) grpc_port=$(free_port) http_port=$(free_port) admin_port=$(free_port)
  "$bin" api --listen "127.0.0.1:$api_port" --time-scale 600 --seed 1 --expose-plan --advance "$mode" \
    --log-level warn >"$dir/api.log" 2>&1 &
  pids+=($!)
  node "$root/tests/node/receiver.js" --grpc-port "$grpc_port" --http-port "$http_port" --out "$dir/spans.jsonl" \
    >"$dir/receiver.log" 2>&1 &
  pids+=($!)
  wait_port "$api_port"
  wait_port "$http_port"
  OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$http_port" \
    OTEL_BSP_SCHEDULE_DELAY=100 "$bin" worker --redis "redis://127.0.0.1:$redis_port" \
    --api-url "http://127.0.0.1:$api_port" --initial-delay 5ms --interval "$interval" --timeout 120s \
    --admin-listen "127.0.0.1:$admin_port" --log-level warn $extra >"$dir/worker.log" 2>&1 &
  local worker=$!
  pids+=($worker)
  for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz")" = 200 ] && break; sleep 0.1; done
  local busy=""
  if [ "$load" = 1 ] && command -v taskset >/dev/null; then
    taskset -pc 0 "$worker" >/dev/null
    taskset -c 0 timeout 120 sh -c 'while :; do :; done' &
    busy=$!
  fi
  "$bin" generate --redis "redis://127.0.0.1:$redis_port" --rate 100 --count "$n" --ids-out "$dir/ids.txt" \
    >/dev/null 2>&1
  for _ in $(seq 600); do
    [ "$(grep -c '"name":"Workflow"' "$dir/spans.jsonl" 2>/dev/null || true)" -ge "$n" ] && break
    sleep 0.2
  done
  [ -n "$busy" ] && kill "$busy" 2>/dev/null || true
  python3 - "$dir" "$api_port" "$mode" "$interval" "$extra" <<'PY'
import json, sys, statistics, urllib.request
d, port, mode, interval, extra = sys.argv[1:6]
spans = [json.loads(l) for l in open(d + "/spans.jsonl")]
ids = [l.strip() for l in open(d + "/ids.txt") if l.strip()]
by_trace = {}
for s in spans:
    by_trace.setdefault(s["traceId"], []).append(s)
widths, wrong, stamp, lag, n_win = [], 0, [], [], 0
roots = {s["attributes"]["workflowId"]: s["traceId"] for s in spans if s["name"] == "Workflow"}
for wid in ids:
    plan = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/plan/{wid}"))
    ents = {e["entityType"]: e for e in plan["entities"]}
    for s in by_trace.get(roots.get(wid, ""), []):
        e = ents.get(s["name"])
        if not e:
            continue
        if e["endUnixNano"] is not None:
            lag.append((int(s["endTimeUnixNano"]) - e["plannedEndUnixNano"]) / 1e6)
        for ev in s["events"]:
            if ev["name"] != "Processing" or e["processingUnixNano"] is None:
                continue
            real, t = e["processingUnixNano"], int(ev["timeUnixNano"])
            stamp.append(abs(t - real) / 1e6)
            a = ev["attributes"]
            if a.get("extrace.time_source") != "poll":
                continue
            n_win += 1
            before = int(a["extrace.observed_before_unix_nano"]["int"])
            after = int(a["extrace.observed_after_unix_nano"]["int"]) if "extrace.observed_after_unix_nano" in a else None
            if real > before or (after is not None and real < after):
                wrong += 1
            if after is not None:
                widths.append((before - after) / 1e6)
def q(v, p):
    if not v:
        return "–"
    v = sorted(v)
    return "%.1f" % v[min(len(v) - 1, int(p * len(v)))]
label = mode + (" + --processing-times" if extra else "")
print(f"| {label} | {interval} | {len(roots)}/{len(ids)} | {n_win} | {wrong} | "
      f"{q(widths, .5)} / {q(widths, .99)} / {q(widths, 1)} | {q(stamp, .5)} / {q(stamp, 1)} | "
      f"{q(lag, .5)} / {q(lag, .99)} / {q(lag, 1)} |")
PY
  stop_all
}

echo "| api --advance | worker --interval | traces | un-timestamped | wrong windows | window width ms (median / p99 / max) | stamp error ms (median / max) | end lag behind plan ms (median / p99 / max) |"
echo "|---|---|---|---|---|---|---|---|"
for i in $intervals; do
  run on-poll "$i" ""
  run on-time "$i" ""
done
run on-time "${intervals##* }" --processing-times
kill "$redis_pid" 2>/dev/null || true
