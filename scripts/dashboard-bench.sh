#!/usr/bin/env bash
# The server dashboard under a flood: idle CPU, key-to-screen latency while
# 20 000 messages/s pour in, and RSS after more than a million frames. Runs the
# real binary in tmux (installed with apt-get if missing); loopback only, bounded.
#
#   scripts/dashboard-bench.sh            # FLOOD_SECS=60 RATE=20000
#   BIN=/tmp/wsprobe-old scripts/dashboard-bench.sh   # an earlier build, to compare
#   PROTOCOL=jsonrpc scripts/dashboard-bench.sh       # JSON-RPC calls, decoded on screen
set -euo pipefail
cd "$(dirname "$0")/.."
FLOOD_SECS=${FLOOD_SECS:-60}
RATE=${RATE:-20000}
command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux; }
cargo build --release --quiet --bin wsprobe
W=${BIN:-$PWD/target/release/wsprobe}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
S=wsprobe-dash-$$
SERVER_ARGS=()
LOAD_ARGS=()
if [ "${PROTOCOL:-}" = jsonrpc ]; then
  # The server decodes each call it shows; the bench's calls come back echoed.
  SERVER_ARGS=(--protocol jsonrpc)
  LOAD_ARGS=(--protocol jsonrpc --call eth_getBalance '["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]')
fi
tmux new-session -d -s "$S" -x 120 -y 40 "exec env WSPROBE_HISTORY= $W server 127.0.0.1:$PORT ${SERVER_ARGS[*]}"
trap 'tmux kill-session -t $S 2>/dev/null || true' EXIT
sleep 1
PID=$(tmux display -p -t "$S" '#{pane_pid}')
[ "$(cat /proc/$PID/comm)" = "$(basename "$W" | cut -c1-15)" ] || { echo "could not find the wsprobe process" >&2; exit 1; }
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }

# 1. Idle CPU over 10 seconds (the dashboard redraws once a second for its clocks).
t0=$(cpu_ticks); sleep 10; t1=$(cpu_ticks)
idle=$(python3 -c "print(f'{($t1-$t0)/$TCK/10*100:.2f}')")

# 2. The flood, and keys while it runs.
"$W" bench "ws://127.0.0.1:$PORT" -c 10 --rate "$RATE" -d "${FLOOD_SECS}s" --json "${LOAD_ARGS[@]}" > target/dash-flood.json &
BENCH=$!
sleep 3
lat=()
for i in $(seq 20); do
  before=$(tmux capture-pane -t "$S" -p | tail -1)
  start=$(date +%s%N)
  tmux send-keys -t "$S" Tab
  while [ "$(tmux capture-pane -t "$S" -p | tail -1)" = "$before" ]; do
    if [ $(( $(date +%s%N) - start )) -gt 2000000000 ]; then break; fi
  done
  lat+=($(( ($(date +%s%N) - start) / 1000000 )))
  sleep 0.5
done
wait $BENCH || true
sleep 2
rss=$(rss_kb)
frames=$(python3 -c "import json; d=json.load(open('target/dash-flood.json')); print(d['received'] * 2)")
shown=$(tmux capture-pane -t "$S" -p | grep -o '[0-9]* frames not shown' || echo "no frames left unshown")
keys=$(printf '%s\n' "${lat[@]}" | sort -n | python3 -c "import sys; v=[int(x) for x in sys.stdin]; print(f'median {v[len(v)//2]} ms, max {v[-1]} ms over {len(v)} keys')")
echo "idle CPU:            ${idle} %"
echo "key to screen:       ${keys} (during ${RATE} msgs/s${PROTOCOL:+, decoded as $PROTOCOL})"
echo "frames through:      ${frames} (${shown})"
echo "RSS after the flood: $((rss / 1024)) MB"
echo "bench during flood:  $(python3 -c "import json; d=json.load(open('target/dash-flood.json')); print(d['messages_per_sec'], 'msgs/s, rtt p99', d['rtt_us']['p99'], 'us, lost', d['lost'])")"
