#!/usr/bin/env bash
# What big echoes cost each server in CPU: `wsprobe bench` sends N messages of
# SIZE (one connection, WINDOW in flight) to wsprobe (headless, -q), the bare
# tokio-tungstenite echo, fastwebsockets' echo and uWebSockets.js, and the
# server's user+system CPU seconds for the whole run are read from /proc when
# it ends; the medians of REPEAT interleaved runs come out as a Markdown table.
# Peers come from scripts/bench.sh's builds (run it once first); a peer not
# built is left out. Loopback only; every run is bounded by its count.
#
#   scripts/echo-cpu.sh                      # N=3000 SIZE=1MiB WINDOW=1 REPEAT=3
#   WINDOW=2 scripts/echo-cpu.sh             # two in flight
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-3000}
SIZE=${SIZE:-1MiB}
WINDOW=${WINDOW:-1}
REPEAT=${REPEAT:-3}
W=target/release/wsprobe
EX=target/release/examples
FASTWS=target/bench-fastws/release/fastws-echo
UWS=target/bench-uws/echo.js

echo "building (release)…" >&2
cargo build --release --quiet --bin wsprobe --example bare_echo
SERVERS=(wsprobe bare-echo)
[ -x "$FASTWS" ] && SERVERS+=(fastwebsockets) || echo "warning: $FASTWS not built (run scripts/bench.sh once); left out" >&2
[ -f "$UWS" ] && command -v node >/dev/null && SERVERS+=(uwebsockets-js) || echo "warning: $UWS not installed (run scripts/bench.sh once); left out" >&2
TICK=$(getconf CLK_TCK)
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

# shellcheck source=ports.sh
. scripts/ports.sh

for rep in $(seq "$REPEAT"); do
  for server in "${SERVERS[@]}"; do
    port=$(free_port); addr=127.0.0.1:$port
    case $server in
      wsprobe) "$W" server "$addr" --no-tui -q >/dev/null 2>&1 & ;;
      bare-echo) "$EX/bare_echo" "$addr" >/dev/null 2>&1 & ;;
      fastwebsockets) "$FASTWS" "$addr" >/dev/null 2>&1 & ;;
      uwebsockets-js) node "$UWS" "$addr" >/dev/null 2>&1 & ;;
    esac
    pid=$!
    wait_port "$port"
    json=$("$W" bench "ws://$addr" -c 1 -w "$WINDOW" -s "$SIZE" --binary -n "$N" --timeout 10s --json || true)
    # Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks.
    read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat")
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    echo "rep $rep $server: cpu ticks $utime+$stime, $json" >&2
    python3 - "$server" "$utime" "$stime" "$TICK" "$json" >> "$RAW" <<'PY'
import json, sys
server, u, s, tick, raw = sys.argv[1:]
try:
    d = json.loads(raw)
    mbs, bad = d["mb_per_sec"], d["mismatched"] + d["lost"]
except ValueError:
    mbs, bad = None, 1
print(f"{server}\t{(int(u) + int(s)) / int(tick)}\t{mbs}\t{bad}")
PY
  done
done

python3 - "$RAW" "$N" "$SIZE" "$WINDOW" "$REPEAT" <<'PY'
import collections, statistics, sys
raw, n, size, window, repeat = sys.argv[1:]
cpu, mbs, bad = collections.defaultdict(list), collections.defaultdict(list), collections.Counter()
order = []
for line in open(raw):
    s, c, m, b = line.rstrip("\n").split("\t")
    if s not in order:
        order.append(s)
    cpu[s].append(float(c))
    if m != "None":
        mbs[s].append(float(m))
    bad[s] += int(b)
print(f"{n} echoes of {size}, {window} in flight, one connection; medians of {repeat} interleaved runs.")
print()
print("| server | server CPU (s) | CPU per GB echoed (s) | MB/s | failed checks |")
print("|---|---|---|---|---|")
gb = int(n) * {"KiB": 1024, "MiB": 1 << 20}.get(size[-3:], 1) * int(size[:-3] if size[-3:] in ("KiB", "MiB") else size) / 1e9
for s in order:
    c = statistics.median(cpu[s])
    m = statistics.median(mbs[s]) if mbs[s] else float("nan")
    print(f"| {s} | {c:.2f} | {c / gb:.2f} | {m:.0f} | {bad[s]} |")
PY
