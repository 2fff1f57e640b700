#!/usr/bin/env bash
# bench/ui.sh — the web UI's Workflows table at N workflows (100,000 by
# default): time to sort, filter and page, in the store's API and in a
# headless Chromium, against the Tempo-API search the dashboard used before.
#
# Starts `extrace store` on a fresh data dir, sends N workflow root spans
# over OTLP/HTTP JSON (tests/browser/bulk.js, batches of 500), then runs
# bench/ui.js: REPEAT timed requests per /api/ui/workflows case (median and
# p95), the peer (/api/search with the old dashboard's TraceQL query and
# limit=5000: it showed at most 5,000 rows), and in Chromium the time from
# a click (sort header, status card, next/last page) or a typed id prefix
# until the table shows the new rows.
#   BUILD=build N=100000 REPEAT=15 bench/ui.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
n=${N:-100000}
browser=$root/tests/browser

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ -x "$build/extrace" ] || { echo "bench/ui.sh: $build/extrace not found (make build)" >&2; exit 1; }
[ -d "$browser/node_modules/playwright-core" ] || { echo "bench/ui.sh: run 'npm ci' in tests/browser first" >&2; exit 1; }

dir=$(mktemp -d)
http=$(free_port) otlp=$(free_port) grpc=$(free_port)
"$build/extrace" store --data-dir "$dir" --log-level warn --http-listen "127.0.0.1:$http" \
  --otlp-http-listen "127.0.0.1:$otlp" --otlp-grpc-listen "127.0.0.1:$grpc" >"$dir/store.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/ready" >/dev/null && break; sleep 0.1; done

echo "sending $n workflows"
node "$browser/bulk.js" "http://127.0.0.1:$otlp" "$n"
NODE_PATH=$browser/node_modules node "$here/ui.js" "http://127.0.0.1:$http" "$n"
