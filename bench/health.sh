#!/usr/bin/env bash
# Load test of authenticated GET /api/v1/health on loopback with wrk, plus idle RSS of `vigia serve`.
# Usage: bench/health.sh [duration=20s] [connections=64]   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}
connections=${2:-64}
cargo build --release -q -p vigia
bin=${CARGO_TARGET_DIR:-target}/release/vigia
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
VIGIA_ADMIN_PASSWORD=bench-password-1 VIGIA_DATA_DIR="$work" VIGIA_PLUGINS_DIR="$work/plugins" VIGIA_SERVER_LISTEN=127.0.0.1:$port \
  VIGIA_LOG_LEVEL=warn "$bin" serve >"$work/out.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
sleep 1
echo "idle RSS: $(ps -o rss= -p $pid | awk '{printf "%.1f MiB", $1/1024}')"
session=$(curl -s -u admin:bench-password-1 -X POST "http://127.0.0.1:$port/api/v1/auth/token" | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])')
token=$(curl -s -X POST "http://127.0.0.1:$port/api/v1/tokens" -H "Authorization: Bearer $session" \
  -d '{"name":"bench","scopes":["read:status"]}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])')
wrk -t2 -c"$connections" -d"$duration" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/health"
echo "RSS after load: $(ps -o rss= -p $pid | awk '{printf "%.1f MiB", $1/1024}')"
