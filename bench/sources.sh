#!/usr/bin/env bash
# bench/sources.sh — what a source costs the worker (not a test).
#
#   bench/sources.sh cpu      CPU per poll: the seed's native parser, the
#                             seed's jq profile, the github-actions profile
#   bench/sources.sh memory   RSS per in-flight GitHub run (run → jobs → steps)
#   bench/sources.sh          both
#
# cpu: one go, three rows, each with the worker pinned to CPU 0 and the api
#   to CPU 1, W workflows (default 2,000) polled every INTERVAL (default
#   1s) for DURATION seconds (default 10), exporter none; worker CPU ticks
#   (utime + stime) over extrace_polls_total in that time:
#     seed        `extrace api` (on poll, time scale 1: a workflow lasts
#                 ~20 minutes), `extrace worker` (native C parser)
#     seed-jq     the same api, `extrace worker --source profiles/seed.yaml`
#                 (same spans, by the jq program)
#     github      `extrace api --source github-actions --rate-limit 0`,
#                 `extrace worker --source github-actions` (2 requests a poll,
#                 ETag: most polls answered 304)
#   Ratios against the seed's native row.
# memory: `extrace api --source github-actions --time-scale 20 --advance
#   on-time --rate-limit 0`; N runs (default 10,000) are first fetched with
#   curl so they start, then after SETTLE seconds (default 10: each run is
#   then ~50 simulated seconds in or more, jobs and steps running) announced
#   to a worker with --initial-delay 0 --interval 1h: one poll each, then
#   they stay in flight holding their trees. VmRSS before the events and
#   after every workflow's first poll, over the workflows still in flight
#   (a run that ended before its poll is not) → bytes per workflow, with the
#   conditional-request cache at its default and at 0.
# Knobs: BUILD, W, INTERVAL, DURATION, N, SETTLE.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
bin=$build/extrace
w=${W:-2000}
interval=${INTERVAL:-1s}
duration=${DURATION:-10}
n=${N:-10000}
settle=${SETTLE:-10}
what=${1:-all}

# shellcheck source=bench/lib.sh
. "$here/lib.sh" # build check, CPU pins, $work
for tool in redis-server redis-cli curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/sources.sh: $tool not found" >&2; exit 1; }
done
pin0=("${pin_server[@]}") pin1=("${pin_client[@]}")
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; cleanup' EXIT

wait_http() { for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
metric() { curl -fs "http://127.0.0.1:$admin/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# $1: api flags, $2: worker flags.
start_stack() {
  rport=$(free_port) aport=$(free_port) admin=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
  pids+=($!)
  # shellcheck disable=SC2086
  "${pin1[@]}" "$bin" api --listen "127.0.0.1:$aport" --max-workflows 1000000 --seed 1 --log-level warn $1 \
    >"$work/api.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$aport/healthz"
  # shellcheck disable=SC2086
  OTEL_TRACES_EXPORTER=none GITHUB_TOKEN=bench "${pin0[@]}" "$bin" worker --redis "127.0.0.1:$rport" \
    --api-url "http://127.0.0.1:$aport" --admin-listen "127.0.0.1:$admin" --log-level warn $2 \
    >"$work/worker.log" 2>&1 &
  worker=$!
  pids+=($worker)
  wait_http "http://127.0.0.1:$admin/readyz"
}

stop_stack() { stop_all; }

# Publish one event per key ($1: source, $2: key format with one %d, $3: count) in one redis-cli --pipe.
announce() {
  local now
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
  awk -v src="$1" -v fmt="$2" -v n="$3" -v now="$now" 'BEGIN {
    for (i = 1; i <= n; i++) {
      ev = sprintf("{\"Source\":\"%s\",\"Key\":\"" fmt "\",\"SubmittedAt\":\"%s\"}", src, i, now)
      printf "*3\r\n$7\r\nPUBLISH\r\n$22\r\nevent.workflow.started\r\n$%d\r\n%s\r\n", length(ev), ev
    }
  }' | redis-cli -p "$rport" --pipe >/dev/null
}

wait_metric_ge() { # $1 metric, $2 value
  for _ in $(seq 1200); do
    [ "$(metric "$1" | cut -d. -f1)" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench/sources.sh: $1 = $(metric "$1"), expected $2" >&2
  return 1
}

# One CPU row: $1 label, $2 api flags, $3 worker flags, $4 event source, $5 key prefix. Prints µs per poll.
cpu_row() {
  start_stack "$2" "--initial-delay 0s --interval $interval --timeout 2h $3"
  announce "$4" "$5" "$w"
  wait_metric_ge extrace_workflows_in_flight "$w"
  sleep 3 # the first round spreads out
  local p0 t0 p1 t1 u0 u1 hz
  hz=$(getconf CLK_TCK)
  p0=$(metric extrace_polls_total) u0=$(metric extrace_polls_unchanged_total) t0=$(cpu_ticks "$worker")
  sleep "$duration"
  p1=$(metric extrace_polls_total) u1=$(metric extrace_polls_unchanged_total) t1=$(cpu_ticks "$worker")
  local polls=$((p1 - p0)) us
  us=$(( (t1 - t0) * 1000000 / hz / (polls > 0 ? polls : 1) ))
  echo "cpu: $1: $polls polls in ${duration}s ($(( ${u1:-0} - ${u0:-0} )) unchanged), worker $((t1 - t0)) ticks = $us µs per poll" >&2
  stop_stack
  echo "$us"
}

bench_cpu() {
  local seed jq gh
  seed=$(cpu_row seed "" "" seed "00000000-0000-4000-8000-%012d")
  jq=$(cpu_row seed-jq "" "--source $root/profiles/seed.yaml" seed "00000000-0000-4000-8000-%012d")
  gh=$(cpu_row github "--source github-actions --rate-limit 0" "--source github-actions" github-actions "octo/hello/%d")
  python3 -c "
s, j, g = $seed, $jq, $gh
print(f'cpu per poll: seed native {s} µs, seed jq profile {j} µs ({j / s:.1f}x), github-actions profile {g} µs ({g / s:.1f}x)')"
}

mem_row() { # $1: extra worker flags; prints bytes per workflow
  start_stack "--source github-actions --rate-limit 0 --time-scale 5 --advance on-time" \
    "--source github-actions --initial-delay 0s --interval 1h --timeout 2h --max-workflows $((n * 2)) $1"
  awk -v n="$n" -v p="$aport" 'BEGIN { for (i = 1; i <= n; i++)
    printf "url = \"http://127.0.0.1:%d/repos/octo/hello/actions/runs/%d\"\noutput = /dev/null\n", p, i }' >"$work/touch"
  curl -s -K "$work/touch"
  sleep "$settle"
  local before after
  before=$(rss_kb "$worker")
  announce github-actions "octo/hello/%d" "$n"
  wait_metric_ge extrace_polls_total "$n"
  sleep 1
  after=$(rss_kb "$worker")
  local flying
  flying=$(metric extrace_workflows_in_flight)
  echo "memory ($1): $n GitHub runs polled once, $flying in flight; worker VmRSS ${before} kB -> ${after} kB" >&2
  stop_stack
  echo $(( (after - before) * 1024 / (flying > 0 ? flying : 1) ))
}

bench_memory() {
  local with without
  with=$(mem_row "")
  without=$(mem_row "--conditional-cache-bytes 0")
  echo "memory per in-flight GitHub run (3-level tree): $with bytes; without the conditional-request cache $without bytes"
}

case "$what" in
  cpu) bench_cpu ;;
  memory) bench_memory ;;
  all) bench_cpu; bench_memory ;;
  *) echo "usage: bench/sources.sh [cpu|memory]" >&2; exit 2 ;;
esac
