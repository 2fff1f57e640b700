#!/usr/bin/env bash
# bench/intake.sh — is every pub/sub event received while the worker polls
# at full load? (not a test; tests/integration/test_worker_intake.c is the
# small-scale check).
#
# redis-server (its default client-output-buffer-limit for pub/sub,
# 32mb 8mb 60, unless LIMIT says otherwise), `extrace api --time-scale 1`
# (workflows run for minutes) and `extrace worker --initial-delay 0s
# --interval 100ms` with exporter none: every watched workflow wants 10
# polls a second, far more than one core serves, so the worker is at full
# poll load for the whole run. First PRELOAD workflows are announced and
# watched (the poll load is there before the flood), then N events are
# published at RATE a second by `extrace generate`. Reported for the flood:
# announced (N), received (extrace_events_received_total), watched
# (extrace_workflows_started_total), refused with a reason
# (extrace_events_rejected_total{reason="capacity"}: --max-workflows CAP),
# subscriptions (extrace_redis_subscriptions_total: 1 means Redis never
# closed the subscriber), the polls done meanwhile, and the CPU seconds each
# process took over the flood: the worker (CPU 0), and generate, redis-server
# and the api, which share CPU 1 (the rate reached is generate's summary).
#
#   BUILD=build bench/intake.sh                # N=1000000 RATE=20000 PRELOAD=20000 CAP=1000000
#   BUILD=build N=100000 RATE=50000 bench/intake.sh
#   RUNS=3 bench/intake.sh                     # three runs in a row
#   LIMIT='4mb 2mb 1' bench/intake.sh          # a tighter pub/sub buffer in Redis
#   GEN=/tmp/old/extrace bench/intake.sh       # the flood sent by another build's generate
# Knobs: BUILD, GEN, N, RATE, PRELOAD, CAP (--max-workflows), POLLS
# (--max-concurrent-polls), LIMIT, RUNS, SETTLE (seconds to wait for the
# last events after generate ends, default 30).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
bin=$build/extrace
gen=${GEN:-$bin}
n=${N:-1000000}
rate=${RATE:-20000}
preload=${PRELOAD:-20000}
cap=${CAP:-$((n + preload))}
polls=${POLLS:-256}
limit=${LIMIT:-32mb 8mb 60}
runs=${RUNS:-1}
settle=${SETTLE:-30}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ ! -x "$bin" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc)" --target extrace >/dev/null
fi
for tool in redis-server redis-cli curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/intake.sh: $tool not found" >&2; exit 1; }
done

pin0=() pin1=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin0=(taskset -c 0) pin1=(taskset -c 1); fi

work=$(mktemp -d)
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

wait_http() { for _ in $(seq 300); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
metric() { curl -fs "http://127.0.0.1:$admin/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime
received() { metric extrace_events_received_total; }
refused() { metric 'extrace_events_rejected_total{reason="capacity"}'; }

start_stack() {
  rport=$(free_port) aport=$(free_port) admin=$(free_port)
  # shellcheck disable=SC2086
  "${pin1[@]}" redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --client-output-buffer-limit "pubsub $limit" >"$work/redis.log" 2>&1 &
  redis=$!
  pids+=("$redis")
  "${pin1[@]}" "$bin" api --listen "127.0.0.1:$aport" --time-scale 1 --max-workflows $((n + preload + 1000)) \
    --seed 1 --log-level warn >"$work/api.log" 2>&1 &
  api=$!
  pids+=("$api")
  wait_http "http://127.0.0.1:$aport/healthz"
  for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  OTEL_TRACES_EXPORTER=none "${pin0[@]}" "$bin" worker --redis "127.0.0.1:$rport" \
    --api-url "http://127.0.0.1:$aport" --admin-listen "127.0.0.1:$admin" --log-level warn \
    --initial-delay 0s --interval 100ms --timeout 2h --max-workflows "$cap" --max-concurrent-polls "$polls" \
    >"$work/worker.log" 2>&1 &
  worker=$!
  pids+=("$worker")
  wait_http "http://127.0.0.1:$admin/readyz"
}

one_run() {
  start_stack
  "$bin" generate --redis "127.0.0.1:$rport" --rate 20000 --count "$preload" --log-level warn
  for _ in $(seq 600); do [ "$(received)" -ge "$preload" ] && break; sleep 0.1; done
  local r0 s0 c0 p0 t0 t1 r1 last
  r0=$(received) s0=$(metric extrace_workflows_started_total) c0=$(refused) p0=$(metric extrace_polls_total)
  t0=$(cpu_ticks "$worker")
  local rc0 ac0 rc1 ac1 gen_cpu
  rc0=$(cpu_ticks "$redis") ac0=$(cpu_ticks "$api")
  local start=$SECONDS
  # generate's own CPU time from bash's `time` (its summary line goes to stderr as usual).
  { TIMEFORMAT='%U %S'; time "${pin1[@]}" "$gen" generate --redis "127.0.0.1:$rport" --rate "$rate" \
      --count "$n" --log-level warn 2>&3; } 3>&2 2>"$work/generate.time"
  gen_cpu=$(awk '{printf "%.1f", $1 + $2}' "$work/generate.time")
  rc1=$(cpu_ticks "$redis") ac1=$(cpu_ticks "$api")
  local took=$((SECONDS - start)) busy
  busy="$(metric extrace_polls_in_flight) polls in flight and $(metric extrace_polls_scheduled) due or scheduled"
  # The last events may still be on their way: wait until all came or the count stands still.
  last=-1
  for _ in $(seq $((settle * 2))); do
    r1=$(received)
    [ "$((r1 - r0))" -ge "$n" ] || [ "$r1" = "$last" ] && break
    last=$r1
    sleep 0.5
  done
  t1=$(cpu_ticks "$worker")
  local hz got started ref subs polls_done
  hz=$(getconf CLK_TCK)
  got=$(( $(received) - r0 )) started=$(( $(metric extrace_workflows_started_total) - s0 ))
  ref=$(( $(refused) - c0 )) subs=$(metric extrace_redis_subscriptions_total)
  polls_done=$(( $(metric extrace_polls_total) - p0 ))
  secs() { awk -v t="$1" -v hz="$hz" 'BEGIN {printf "%.1f", t / hz}'; }
  echo "announced $n at $rate/s (generate took ${took}s): received $got ($(awk -v a="$got" -v b="$n" \
    'BEGIN {printf "%.2f", 100 * a / b}') %), watched $started, refused (capacity) $ref," \
    "subscriptions $subs, lost $((n - got)); meanwhile $polls_done polls ($busy at the end), worker CPU" \
    "$(secs $((t1 - t0))) s; during the flood CPU 1 gave generate ${gen_cpu} s, redis-server" \
    "$(secs $((rc1 - rc0))) s, api $(secs $((ac1 - ac0))) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  grep -E 'lost the connection|cannot connect' "$work/worker.log" | head -3 || true
  stop_all
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), build $build," \
     "pubsub limit '$limit', preload $preload, --max-workflows $cap, --max-concurrent-polls $polls"
for _ in $(seq "$runs"); do one_run; done
