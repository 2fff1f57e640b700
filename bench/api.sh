#!/usr/bin/env bash
# bench/api.sh — requests per second of `extrace api` for GET /workflows/{id}.
#
# Builds if needed, starts the simulator pinned to CPU 0 (warn-level logs),
# creates IDS workflows, then runs wrk pinned to CPU 1 against
# GET /workflows/<id>, cycling over those ids, and prints the figure.
#   BUILD=build DURATION=10s CONNECTIONS=64 IDS=1000 TIME_SCALE=1 bench/api.sh
# TIME_SCALE=600 lets the workflows finish within seconds, so most replies
# carry all three entities (up to 1 KB instead of about 330 bytes).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
nids=${IDS:-1000}
scale=${TIME_SCALE:-1}

. "$here/lib.sh"
command -v wrk >/dev/null || { echo "bench/api.sh: wrk not found (scripts/install-deps installs it)" >&2; exit 1; }

# A random port; if it is taken the server exits at once and we try another.
port=
for _ in 1 2 3 4 5; do
  try=$((20000 + RANDOM % 40000))
  "${pin_server[@]}" "$build/extrace" api --listen "127.0.0.1:$try" --seed 1 --time-scale "$scale" \
    --log-level warn >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    if curl -fs "http://127.0.0.1:$try/healthz" >/dev/null 2>&1; then port=$try; break; fi
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] && break
  kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  server=
done
[ -n "$port" ] || { echo "bench/api.sh: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }

# Create the workflows (the first poll of an unknown id creates it).
for i in $(seq "$nids"); do echo "url = \"http://127.0.0.1:$port/workflows/bench-$i\""; done >"$work/create.cfg"
curl -fs -K "$work/create.cfg" >/dev/null

cat >"$work/cycle.lua" <<LUA
local n, i = $nids, 0
request = function()
  i = i % n + 1
  return wrk.format("GET", "/workflows/bench-" .. i)
end
LUA

echo "extrace api: wrk -t1 -c$connections -d$duration, GET /workflows/{id} over $nids ids, time scale $scale"
"${pin_client[@]}" wrk -t1 -c"$connections" -d"$duration" -s "$work/cycle.lua" "http://127.0.0.1:$port" \
  | tee "$work/wrk.out"
rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
echo "requests/s: $rps"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
