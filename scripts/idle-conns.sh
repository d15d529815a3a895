#!/usr/bin/env bash
# What an idle connection costs `wsprobe server`: opens N connections on
# loopback, holds them, and reports the server's RSS per connection. Fails
# (exit 1, with a line saying so) when the figure is over its target: 2 KB
# headless, 3 KB with the dashboard (TARGET_KB= sets another). With
# DASHBOARD=1 the server runs with its dashboard in tmux and the script also
# times a key press with all the connections open.
#
#   scripts/idle-conns.sh              # N=10000 HOLD=20
#   N=19000 scripts/idle-conns.sh      # near this machine's 20 000 open files
#   DASHBOARD=1 scripts/idle-conns.sh
#   BIN=/tmp/wsprobe-old scripts/idle-conns.sh   # an earlier build, to compare
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
HOLD=${HOLD:-20}
ulimit -n $((N * 2 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet --bin wsprobe --example idle_conns
W=${BIN:-$PWD/target/release/wsprobe}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

if [ "${DASHBOARD:-0}" = 1 ]; then
  command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux; }
  S=wsprobe-idle-$$
  tmux new-session -d -s "$S" -x 120 -y 40 "ulimit -n $((N * 2 + 1024)); exec env WSPROBE_HISTORY= $W server 127.0.0.1:$PORT"
  trap 'tmux kill-session -t $S 2>/dev/null || true' EXIT
  sleep 1
  PID=$(tmux display -p -t "$S" '#{pane_pid}')
else
  "$W" server "127.0.0.1:$PORT" --no-tui -q >/dev/null &
  PID=$!
  trap 'kill $PID 2>/dev/null || true' EXIT
  sleep 0.5
fi
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
before=$(rss_kb)
target/release/examples/idle_conns "ws://127.0.0.1:$PORT" "$N" "$HOLD" > target/idle-conns.out &
CLIENT=$!
for _ in $(seq 600); do grep -q connected target/idle-conns.out 2>/dev/null && break; sleep 0.1; done
sleep 3
after=$(rss_kb)
echo "$(cat target/idle-conns.out)"
echo "server RSS: ${before} KB before, ${after} KB with the connections open"
if [ "${DASHBOARD:-0}" = 1 ]; then TARGET_KB=${TARGET_KB:-3}; else TARGET_KB=${TARGET_KB:-2}; fi
over=0
python3 - "$(awk '{print $2}' target/idle-conns.out)" "$before" "$after" "$N" "$TARGET_KB" <<'PY' || over=1
import sys
n, before, after, asked, target = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
per = (after - before) * 1024 / max(n, 1) / 1000
print(f"per connection: {per:.2f} KB ({n} connections)")
if n < asked:
    print(f"FAIL: only {n} of {asked} connections were opened")
    sys.exit(1)
if per > target:
    print(f"FAIL: {per:.2f} KB per idle connection is over the target of {target:g} KB")
    sys.exit(1)
PY
if [ "${DASHBOARD:-0}" = 1 ]; then
  before_line=$(tmux capture-pane -t "$S" -p | tail -1)
  start=$(date +%s%N)
  tmux send-keys -t "$S" Tab
  while [ "$(tmux capture-pane -t "$S" -p | tail -1)" = "$before_line" ]; do
    [ $(( $(date +%s%N) - start )) -gt 3000000000 ] && break
  done
  echo "dashboard: a key reached the screen in $(( ($(date +%s%N) - start) / 1000000 )) ms with the connections open"
  tmux capture-pane -t "$S" -p | head -3
fi
kill $CLIENT 2>/dev/null || true
exit $over
