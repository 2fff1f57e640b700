#!/usr/bin/env bash
# bench/worker.sh — figures of `extrace worker` (not a test).
#
#   bench/worker.sh memory   bytes of RSS per idle in-flight workflow
#   bench/worker.sh polls    CPU per poll against wrk's per request and a Node.js peer's per poll
#   bench/worker.sh scale    CPU per poll at 10k, 100k and 1M workflows in flight
#   bench/worker.sh flat     CPU per poll at 10k and 1M in flight, both stacks at once (same-run ratio)
#   bench/worker.sh stream   CPU per workflow of --stream (checkpoints, acks) against pub/sub
#   bench/worker.sh registry CPU per scheduling cycle (dispatch + reschedule) at 10k and 1M, one process
#   bench/worker.sh parse    CPU per parse of one answer: jansson's DOM against the fast path
#   bench/worker.sh          memory, polls and stream
#
# memory: redis-server, `extrace api --time-scale 1` and the worker with
#   --initial-delay 1h (so every workflow stays idle in the schedule) and
#   OTEL_TRACES_EXPORTER=none; VmRSS of the worker before and after
#   `extrace generate` publishes N events (default 100,000) → bytes/workflow.
# polls: the worker pinned to CPU 0, the api to CPU 1; W workflows
#   (default 5,000) polled every INTERVAL (default 100ms, i.e. a demand far
#   above what one core serves) over POLLS connections (default 64); the
#   worker's CPU time per poll over DURATION seconds (default 10). Then, on
#   the same CPU against the same api: the Node.js peer (bench/worker_peer.js,
#   OpenTelemetry JS SDK) polling the same workflows, and wrk -t1 -cPOLLS on
#   GET /workflows/<id> (CPU per request: wrk's rusage / requests). RUNS
#   runs (default 3); ratios wrk/worker and peer/worker per run, then
#   min/median/max.
# scale: CPU per poll with SCALES (default "10000 100000 1000000") workflows
#   in flight, each size a fresh stack.
# flat: two stacks at once (redis, api, worker each): SMALL (default 10,000)
#   and LARGE (default 1,000,000) workflows in flight, both workers pinned
#   to CPU 0 and both apis to CPU 1, so that they share the machine alike;
#   initial delay long enough for all to be in flight before the first
#   poll (the large worker's VmRSS then gives bytes per idle workflow);
#   the apis with --advance on-time at TIME_SCALE (default 0.001: the
#   workflows do not move, so that a poll does the same work on both
#   sides; 1: they move, and a workflow polled less often shows more
#   change per poll);
#   after the large stack polled each of its workflows once, WINDOWS
#   (default 3) windows of DURATION s in which both workers' CPU time
#   (utime + stime) per poll is read at the same moments; RUNS runs
#   (default 3); large/small per window, then min/median/max over all.
#   PERF=prefix: perf record of both workers in run 1's first window
#   (prefix.small, prefix.large).
# stream: the same stack with `extrace api --time-scale 600` (a workflow
#   takes about 2 s), once with pub/sub and once with --stream: S workflows
#   (default 5,000) generated at RATE a second (default 500) and watched to
#   the end (exporter none); the worker's and redis-server's CPU time per
#   workflow in each mode, checkpoints written per workflow, and the ratio.
# parse: bench/snapshot_parse.c on a seed answer of 3 stages
#   (tests/fuzz/corpus/snapshot/completed.json, or ANSWER), ROUNDS rounds
#   (default 5) of 100,000 parses by each parser, interleaved; no stack.
# registry: bench/registry_cycle.c, the registry alone at SMALL and LARGE
#   entries, all overdue; ROUNDS (default 7) rounds of CYCLES (default
#   1,000,000) cycles per size, interleaved; process CPU time; no stack.
# Knobs: BUILD, N, W, S, SMALL, LARGE, WINDOWS, TIME_SCALE, CYCLES, ROUNDS, RATE, INTERVAL, DURATION, POLLS (--max-concurrent-polls), RUNS, SCALES, NO_PEER,
# PERF (a file: perf record -g of the worker during its window), WORKER_ARGS (more flags for the worker,
# e.g. "--pipeline-depth 1").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
bin=$build/extrace
n=${N:-100000}
w=${W:-5000}
interval=${INTERVAL:-100ms}
duration=${DURATION:-10}
polls=${POLLS:-64}
streamed=${S:-5000}
rate=${RATE:-500}
scale=1
what=${1:-all}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ ! -x "$bin" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc)" --target extrace >/dev/null
fi
for tool in redis-server curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/worker.sh: $tool not found" >&2; exit 1; }
done

pin0=() pin1=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin0=(taskset -c 0) pin1=(taskset -c 1); fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_http() { for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
metric() { curl -fs "http://127.0.0.1:$admin/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime
io_calls() { awk '/^sysc[rw]:/ {s += $2} END {print s}' "/proc/$1/io"; } # read + write system calls
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_stack() { # $1: worker flags; api pinned with $pin_api; worker with $pin_worker
  rport=$(free_port) aport=$(free_port) admin=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/${tag:-}redis.log" 2>&1 &
  redis=$!
  pids+=($redis)
  # shellcheck disable=SC2086 # $api_flags are words
  "${pin_api[@]}" "$bin" api --listen "127.0.0.1:$aport" --time-scale "$scale" --max-workflows 1000000 --seed 1 \
    ${api_flags:-} --log-level warn >"$work/${tag:-}api.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$aport/healthz"
  # shellcheck disable=SC2086
  OTEL_TRACES_EXPORTER=none "${pin_worker[@]}" "$bin" worker --redis "127.0.0.1:$rport" \
    --api-url "http://127.0.0.1:$aport" --admin-listen "127.0.0.1:$admin" --log-level warn $1 ${WORKER_ARGS:-} \
    >"$work/${tag:-}worker.log" 2>&1 &
  worker=$!
  pids+=($worker)
  wait_http "http://127.0.0.1:$admin/readyz"
}

stop_stack() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

wait_in_flight() { # $1: count
  for _ in $(seq 600); do
    [ "$(metric extrace_workflows_in_flight)" = "$1" ] && return 0
    sleep 0.1
  done
  echo "bench/worker.sh: only $(metric extrace_workflows_in_flight) of $1 workflows in flight" >&2
  return 1
}

bench_memory() {
  pin_api=() pin_worker=()
  start_stack "--initial-delay 1h --timeout 2h --max-workflows $((n * 2))"
  sleep 0.5
  before=$(rss_kb "$worker")
  "$bin" generate --redis "127.0.0.1:$rport" --rate 20000 --count "$n" --log-level warn
  wait_in_flight "$n"
  after=$(rss_kb "$worker")
  echo "memory: $n idle workflows; worker VmRSS ${before} kB -> ${after} kB:" \
       "$(( (after - before) * 1024 / n )) bytes per workflow"
  stop_stack
}

# CPU µs of the worker per poll over $duration s (sets poll_us, poll_rate).
measure_worker() {
  errors() { metric 'extrace_poll_errors_total{kind="connect"}'; }
  local p0 e0 t0 p1 e1 t1 hz s0 s1 q0 q1
  p0=$(metric extrace_polls_total) e0=$(errors) t0=$(cpu_ticks "$worker") s0=$(io_calls "$worker")
  q0=$(metric extrace_polls_same_answer_total)
  if [ -n "${PERF:-}" ]; then # PERF=file: a profile of the worker over the window
    perf record -e cpu-clock -g -o "$PERF" -p "$worker" -- sleep "$duration" >/dev/null 2>&1
  else
    sleep "$duration"
  fi
  p1=$(metric extrace_polls_total) e1=$(errors) t1=$(cpu_ticks "$worker") s1=$(io_calls "$worker")
  q1=$(metric extrace_polls_same_answer_total)
  hz=$(getconf CLK_TCK)
  poll_rate=$(( (p1 - p0) / duration ))
  poll_us=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v p=$((p1 - p0)) 'BEGIN { printf "%.1f", t * 1e6 / hz / p }')
  echo "  worker: $poll_rate polls/s with the worker at $(( (t1 - t0) * 100 / (hz * duration) ))% of one core:" \
       "$poll_us µs CPU per poll (connect errors: $((e1 - e0)))"
  echo "  worker: $(awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) 'BEGIN { printf "%.2f", s / p }') read and write" \
       "system calls per poll (/proc/<pid>/io syscr + syscw; epoll_wait not counted)"
  [ -z "$q1" ] || echo "  worker: $(awk -v q=$((q1 - q0)) -v p=$((p1 - p0)) 'BEGIN { printf "%.1f", q * 100 / p }')%" \
       "of the polls found the answer applied last, not parsed (extrace_polls_same_answer_total)"
}

# wrk on CPU 0 against the api: CPU µs of wrk per request (sets wrk_us).
measure_wrk() {
  local id out
  id=$(head -1 "$work/ids")
  out=$(python3 -c '
import re, resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
n = int(re.search(r"(\d+) requests in", r.stdout).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
print(n, (u.ru_utime + u.ru_stime) * 1e6 / n, bad.group(1) if bad else 0)
' "${pin0[@]}" wrk -t1 -c"$polls" -d"${duration}s" "http://127.0.0.1:$aport/workflows/$id")
  read -r n wrk_us bad <<<"$out"
  wrk_us=$(printf '%.1f' "$wrk_us")
  echo "  wrk -t1 -c$polls: $((n / duration)) requests/s, $wrk_us µs CPU per request (non-2xx: $bad)"
}

# The Node.js peer (bench/worker_peer.js, OpenTelemetry JS SDK) on CPU 0,
# polling the same workflows (sets peer_us).
measure_peer() {
  local out
  out=$(NODE_PATH=$root/tests/otel-js/node_modules "${pin0[@]}" node "$here/worker_peer.js" \
    --api "http://127.0.0.1:$aport" --ids "$work/ids" --interval "${interval%ms}" --concurrency "$polls" \
    --warmup 2 --duration "$duration")
  local np cpu perr
  read -r _ np _ cpu _ perr <<<"$out"
  peer_us=$(awk -v c="$cpu" -v p="$np" 'BEGIN { printf "%.1f", c / p }')
  echo "  node peer: $((np / duration)) polls/s, $peer_us µs CPU per poll (errors: $perr)"
}

# One run: the worker, then the peer and wrk against the same api.
polls_run() {
  pin_api=("${pin1[@]}") pin_worker=("${pin0[@]}")
  start_stack "--initial-delay 0s --interval $interval --timeout 2h --max-concurrent-polls $polls --max-workflows $((w * 2))"
  "$bin" generate --redis "127.0.0.1:$rport" --rate 20000 --count "$w" --ids-out "$work/ids" --log-level warn
  wait_in_flight "$w"
  sleep 2 # let the first round of polls spread out
  measure_worker
  kill -TERM "$worker"; wait "$worker" 2>/dev/null || true # free CPU 0 for the others
  peer_us=""
  if [ -z "${NO_PEER:-}" ]; then measure_peer; fi
  wrk_us=""
  if command -v wrk >/dev/null; then measure_wrk; fi
  stop_stack
  awk -v p="$poll_us" -v w="${wrk_us:-0}" -v n="${peer_us:-0}" 'BEGIN {
    printf "  ratios: wrk/worker %.2f (aim >= 0.5), peer/worker %.2f (aim >= 5)\n", w / p, n / p }'
  ratios+=("$(awk -v p="$poll_us" -v w="${wrk_us:-0}" -v n="${peer_us:-0}" 'BEGIN { printf "%.3f %.3f %s", w / p, n / p, p }')")
}

bench_polls() {
  [ -n "${NO_PEER:-}" ] || [ -d "$root/tests/otel-js/node_modules/@opentelemetry/sdk-trace-base" ] ||
    { echo "bench/worker.sh: run 'npm ci' in tests/otel-js for the Node peer (or NO_PEER=1)" >&2; exit 1; }
  ratios=()
  for i in $(seq "${RUNS:-3}"); do
    echo "polls run $i of ${RUNS:-3}: $w workflows every $interval, --max-concurrent-polls $polls"
    polls_run
  done
  printf '%s\n' "${ratios[@]}" | awk '
    { w[NR] = $1; n[NR] = $2; p[NR] = $3 }
    function sort(a, k,   i, j, t) { for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j] < a[j-1]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
    END { sort(w, NR); sort(n, NR); sort(p, NR); m = int((NR + 1) / 2)
      printf "polls over %d runs, min / median / max: worker %.1f / %.1f / %.1f µs per poll; wrk/worker %.2f / %.2f / %.2f; peer/worker %.2f / %.2f / %.2f\n",
        NR, p[1], p[m], p[NR], w[1], w[m], w[NR], n[1], n[m], n[NR] }'
}

# CPU per poll with W in flight, for W in $SCALES (default 10k, 100k, 1M):
# the workflows are announced with --initial-delay long enough that every
# one is in flight before the first poll, then the worker polls them at
# full load (interval far below what it serves) for $duration s.
bench_scale() {
  local sizes=${SCALES:-10000 100000 1000000} delay
  for size in $sizes; do
    delay=$(( size / 15000 + 15 ))
    pin_api=("${pin1[@]}") pin_worker=("${pin0[@]}")
    start_stack "--initial-delay ${delay}s --interval $interval --timeout 2h --max-concurrent-polls $polls --max-workflows $((size * 2))"
    "$bin" generate --redis "127.0.0.1:$rport" --rate 20000 --count "$size" --log-level warn
    # pub/sub may lose some at this rate (the summary above says how many): take what arrived
    local had=-1 now
    for _ in $(seq 600); do
      now=$(metric extrace_workflows_in_flight)
      [ "$now" = "$had" ] && break
      had=$now
      sleep 0.5
    done
    for _ in $(seq 1200); do [ "$(metric extrace_polls_total)" != 0 ] && break; sleep 0.1; done
    sleep 2
    echo "scale: $(metric extrace_workflows_in_flight) in flight"
    measure_worker
    echo "  worker VmRSS $(rss_kb "$worker") kB"
    stop_stack
  done
}

# flat: SMALL and LARGE workflows in flight in two stacks running at the
# same time, so that the machine's noise falls on both alike; the ratio
# of their CPU per poll is taken window by window.
at_metric() { curl -fs "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

settle_in_flight() { # $1: admin port; until the count stops moving (pub/sub may lose some)
  local had=-1 now
  for _ in $(seq 600); do
    now=$(at_metric "$1" extrace_workflows_in_flight)
    [ "$now" = "$had" ] && break
    had=$now
    sleep 1
  done
  echo "$now"
}

# One window of $duration s over both workers; appends "small_us large_us ratio" to $flat_rows.
flat_window() { # $1: run, $2: window; $running: the metric of spans exported as they end
  local hz sp0 st0 lp0 lt0 sp1 st1 lp1 lt1 su0 lu0 su1 lu1 perfs=()
  hz=$(getconf CLK_TCK)
  sp0=$(at_metric "$sa" extrace_polls_total) st0=$(cpu_ticks "$sw") su0=$(at_metric "$sa" "$running")
  lp0=$(at_metric "$la" extrace_polls_total) lt0=$(cpu_ticks "$lw") lu0=$(at_metric "$la" "$running")
  if [ -n "${PERF:-}" ] && [ "$1$2" = 11 ]; then # PERF=prefix: profiles of both workers, run 1 window 1
    perf record -e cpu-clock -g -o "$PERF.small" -p "$sw" -- sleep "$duration" >/dev/null 2>&1 &
    perfs+=($!)
    perf record -e cpu-clock -g -o "$PERF.large" -p "$lw" -- sleep "$duration" >/dev/null 2>&1 &
    perfs+=($!)
    wait "${perfs[@]}"
  else
    sleep "$duration"
  fi
  sp1=$(at_metric "$sa" extrace_polls_total) st1=$(cpu_ticks "$sw") su1=$(at_metric "$sa" "$running")
  lp1=$(at_metric "$la" extrace_polls_total) lt1=$(cpu_ticks "$lw") lu1=$(at_metric "$la" "$running")
  local row
  row=$(awk -v hz="$hz" -v d="$duration" -v sp=$((sp1 - sp0)) -v st=$((st1 - st0)) -v lp=$((lp1 - lp0)) -v lt=$((lt1 - lt0)) \
        -v su=$((su1 - su0)) -v lu=$((lu1 - lu0)) 'BEGIN {
    s = st * 1e6 / hz / sp; l = lt * 1e6 / hz / lp
    printf "%.2f %.2f %.3f %d %d %d %d %d %d\n", s, l, l / s, sp / d, lp / d, st * 100 / (hz * d), lt * 100 / (hz * d), su, lu }')
  local s l r sr lr sc lc sun lun
  read -r s l r sr lr sc lc sun lun <<<"$row"
  echo "  window $2: small $s µs per poll ($sr polls/s, $sc% of a core, $sun spans), large $l µs ($lr polls/s, $lc%," \
       "$lun spans): large/small $r"
  flat_rows+=("$s $l $r")
}

flat_run() { # $1: run number
  local small=${SMALL:-10000} large=${LARGE:-1000000} delay flags gens=() running='extrace_spans_submitted_total{phase="running"}'
  delay=$(( large / 15000 + 20 ))
  flags="--initial-delay ${delay}s --interval $interval --timeout 2h --max-concurrent-polls $polls"
  pin_api=("${pin1[@]}") pin_worker=("${pin0[@]}")
  # Stages move on time (not one step per poll) and at time scale 0.001
  # the next step is days away: every answer is the one the first poll
  # saw, on both sides (TIME_SCALE=1: they move).
  scale=${TIME_SCALE:-0.001} api_flags="--advance on-time"
  tag=large. start_stack "$flags --max-workflows $((large * 2))"
  la=$admin lw=$worker lr=$rport
  tag=small. start_stack "$flags --max-workflows $((small * 2))"
  sa=$admin sw=$worker sr=$rport
  scale=1 api_flags=
  sleep 0.5
  local rss0 rss1 ln sn
  rss0=$(rss_kb "$lw")
  "$bin" generate --redis "127.0.0.1:$lr" --rate 20000 --count "$large" --log-level warn & gens+=($!)
  "$bin" generate --redis "127.0.0.1:$sr" --rate 20000 --count "$small" --log-level warn & gens+=($!)
  wait "${gens[@]}"
  ln=$(settle_in_flight "$la") sn=$(settle_in_flight "$sa")
  rss1=$(rss_kb "$lw")
  local early
  early=$(at_metric "$la" extrace_polls_total)
  echo "flat run $1: $sn and $ln in flight; large worker idle VmRSS $rss0 -> $rss1 kB:" \
       "$(( (rss1 - rss0) * 1024 / ln )) bytes per workflow${early:+ (polls before: $early)}"
  flat_mem+=("$(( (rss1 - rss0) * 1024 / ln ))")
  # Every workflow of the large stack polled once: a first poll builds the
  # tree and exports the Queued span (one span a workflow with them
  # frozen; none after). Polling in due order repolls the first ones
  # before the last are reached, so this takes more than a million polls.
  local t0=$SECONDS
  until [ "$(at_metric "$la" "$running")" -ge "$ln" ]; do
    [ $((SECONDS - t0)) -gt 1200 ] && { echo "bench/worker.sh: the large stack's first round took over 1200 s" >&2; break; }
    sleep 2
  done
  echo "  first round of the large stack: $((SECONDS - t0)) s after intake; worker VmRSS $(rss_kb "$lw") kB"
  for i in $(seq "${WINDOWS:-3}"); do flat_window "$1" "$i"; done
  stop_stack
}

bench_flat() {
  flat_rows=() flat_mem=()
  for run in $(seq "${RUNS:-3}"); do flat_run "$run"; done
  printf '%s\n' "${flat_rows[@]}" | awk -v mem="${flat_mem[*]}" '
    { s[NR] = $1; l[NR] = $2; r[NR] = $3 }
    function sort(a, k,   i, j, t) { for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j] < a[j-1]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
    END { sort(s, NR); sort(l, NR); sort(r, NR); m = int((NR + 1) / 2)
      printf "flat over %d windows, min / median / max: small %.1f / %.1f / %.1f µs per poll; large %.1f / %.1f / %.1f; large/small %.2f / %.2f / %.2f\n",
        NR, s[1], s[m], s[NR], l[1], l[m], l[NR], r[1], r[m], r[NR]
      printf "memory per idle workflow at the large size, per run: %s bytes\n", mem }'
}

# One run of the stream figure: $1 = pubsub or stream.
stream_run() {
  local flags="--initial-delay 20ms --interval 100ms --timeout 10m --max-concurrent-polls 64" gen=""
  [ "$1" = stream ] && flags="$flags --stream bench --claim-idle 60s" gen="--stream bench"
  scale=600 pin_api=("${pin1[@]}") pin_worker=("${pin0[@]}")
  start_stack "$flags"
  scale=1
  local w0 r0 w1 r1 done=0
  w0=$(cpu_ticks "$worker") r0=$(cpu_ticks "$redis")
  # shellcheck disable=SC2086
  "$bin" generate --redis "127.0.0.1:$rport" $gen --rate "$rate" --count "$streamed" --log-level warn
  for _ in $(seq 1200); do
    done=$(curl -fs "http://127.0.0.1:$admin/metrics" | awk '$1 ~ /^extrace_workflows_finished_total/ {s += $2} END {print s + 0}')
    [ "$done" -ge "$streamed" ] && [ "$(metric extrace_workflows_in_flight)" = 0 ] && break
    sleep 0.1
  done
  [ "$1" = stream ] && for _ in $(seq 100); do
    [ "$(redis-cli -p "$rport" XPENDING bench extrace | head -1)" = 0 ] && break
    sleep 0.1
  done
  w1=$(cpu_ticks "$worker") r1=$(cpu_ticks "$redis")
  local hz ckpt
  hz=$(getconf CLK_TCK)
  ckpt=$(metric extrace_checkpoints_saved_total)
  wcpu=$(( (w1 - w0) * 1000000 / hz / streamed )) rcpu=$(( (r1 - r0) * 1000000 / hz / streamed ))
  echo "$1: $done of $streamed workflows finished; worker $wcpu µs CPU per workflow, redis-server $rcpu µs" \
       "per workflow${ckpt:+; $(( ckpt / streamed )).$(( ckpt * 10 / streamed % 10 )) checkpoints per workflow}"
  stop_stack
}

bench_stream() {
  command -v redis-cli >/dev/null || { echo "bench/worker.sh: redis-cli not found" >&2; exit 1; }
  stream_run pubsub; local pw=$wcpu pr=$rcpu
  stream_run stream
  awk -v w="$wcpu" -v pw="$pw" -v r="$rcpu" -v pr="$pr" \
    'BEGIN { printf "stream/pubsub: worker CPU x%.2f, redis-server CPU x%.2f\n", w / pw, r / (pr ? pr : 1) }'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), build $build"
bench_parse() {
  # shellcheck disable=SC2046 # the flags are words
  cc -O2 -g -D_GNU_SOURCE -I"$root/src" "$here/snapshot_parse.c" "$build/libextrace_lib.a" \
    $(pkg-config --libs jansson yajl) -lm -o "$work/snapshot_parse"
  "${pin0[@]}" "$work/snapshot_parse" "${ANSWER:-$root/tests/fuzz/corpus/snapshot/completed.json}" "${ROUNDS:-5}"
}

bench_registry() {
  # shellcheck disable=SC2046 # the flags are words
  cc -O2 -g -D_GNU_SOURCE -I"$root/src" "$here/registry_cycle.c" "$build/libextrace_lib.a" \
    $(pkg-config --libs jansson yajl libxxhash) -lm -o "$work/registry_cycle"
  "${pin0[@]}" "$work/registry_cycle" "${ROUNDS:-7}" "${CYCLES:-1000000}" "${SMALL:-10000}" "${LARGE:-1000000}"
}

case "$what" in
  parse) bench_parse ;;
  registry) bench_registry ;;
  memory) bench_memory ;;
  polls) bench_polls ;;
  scale) bench_scale ;;
  flat) bench_flat ;;
  stream) bench_stream ;;
  all) bench_memory; bench_polls; bench_stream ;;
  *) echo "usage: bench/worker.sh [memory|polls|scale|flat|registry|stream|parse|all]" >&2; exit 2 ;;
esac
