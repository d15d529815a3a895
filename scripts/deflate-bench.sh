#!/usr/bin/env bash
# permessage-deflate throughput: `wsprobe bench --deflate` (50 connections × 16 in
# flight) against `wsprobe server --deflate`, Node `ws` (perMessageDeflate, every
# message compressed) and Python `websockets` (compression on, its default), with
# 64 B and 16 KiB text messages (the bench's text pattern: a sequence number and the
# alphabet repeated), interleaved and repeated; medians as a Markdown table
# (stdout and target/bench/deflate.md). Also wsprobe without compression, for scale.
# Loopback only; every run is bounded in time. Needs the test peers
# (scripts/setup-peers.sh installs Node `ws` and Python `websockets`).
#
#   scripts/deflate-bench.sh              # REPEAT=3 SECS=5 (about 5 minutes)
#   REPEAT=1 SECS=2 scripts/deflate-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT=${REPEAT:-3}
SECS=${SECS:-5}
OUT=${OUT:-target/bench/deflate.md}
RAW=target/bench/deflate.tsv
mkdir -p target/bench
: > "$RAW"

echo "building (release)…" >&2
cargo build --release --quiet --bin wsprobe
bash scripts/setup-peers.sh >&2
W=target/release/wsprobe
PY=target/peers/venv/bin/python

# shellcheck source=ports.sh
. scripts/ports.sh

SERVERS=(wsprobe node-ws python-websockets wsprobe-plain)
SIZES=(64 16KiB)
PID=""
start_server() { # name port
  local addr=127.0.0.1:$2
  case $1 in
    wsprobe) "$W" server "$addr" --no-tui -q --deflate >/dev/null 2>&1 & ;;
    wsprobe-plain) "$W" server "$addr" --no-tui -q >/dev/null 2>&1 & ;;
    node-ws) node scripts/node_echo.js "$addr" >/dev/null 2>&1 & ;;
    python-websockets) "$PY" scripts/py_echo.py "$addr" >/dev/null 2>&1 & ;;
  esac
  PID=$!
  wait_port "$2"
}
stop_server() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
# The server's CPU time so far, in clock ticks: what each server spends per message,
# whatever share of the two cores the load generator (which compresses too) takes.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

for rep in $(seq "$REPEAT"); do
  for size in "${SIZES[@]}"; do
    for server in "${SERVERS[@]}"; do
      port=$(free_port)
      start_server "$server" "$port"
      deflate=--deflate
      [ "$server" = wsprobe-plain ] && deflate=
      before=$(cpu_ticks "$PID")
      json=$("$W" bench "ws://127.0.0.1:$port" -c 50 -w 16 -s "$size" $deflate -d "${SECS}s" --warmup 1s --timeout 10s --json || true)
      after=$(cpu_ticks "$PID")
      stop_server
      echo "rep $rep $size $server: $json" >&2
      python3 - "$server" "$size" "$json" "$((after - before))" "$HZ" >> "$RAW" <<'PY'
import json, sys
server, size, raw, ticks, hz = sys.argv[1:6]
try:
    d = json.loads(raw)
except ValueError:
    print(f"{server}\t{size}\tfailed\t1"); sys.exit()
bad = d["mismatched"] + d["lost"] + d["reordered"] + d["duplicated"] + sum(d["errors"].values())
# Echoes over the whole run, warm-up included, as the CPU time is.
cpu_us = int(ticks) / int(hz) * 1e6 / max(d["received"], 1)
for k, v in [("msgs", d["messages_per_sec"]), ("p50", d["rtt_us"]["p50"]), ("cpu", cpu_us), ("bad", bad)]:
    print(f"{server}\t{size}\t{k}\t{v}")
PY
    done
  done
done

python3 - "$RAW" "$REPEAT" "$SECS" > "$OUT" <<'PY'
import collections, statistics, sys
raw, repeat, secs = sys.argv[1:4]
vals = collections.defaultdict(list)
for line in open(raw):
    s, z, k, v = line.rstrip("\n").split("\t")
    vals[(s, z, k)].append(float(v))
med = lambda s, z, k: statistics.median(vals[(s, z, k)]) if vals[(s, z, k)] else float("nan")
print(f"permessage-deflate echo, 50 connections x 16 in flight, medians of {repeat} runs of {secs} s\n")
print("| server | size | msgs/s | wsprobe is | server CPU per message | RTT p50 | errors |")
print("|---|---|---:|---:|---:|---:|---:|")
for z in ["64", "16KiB"]:
    zs = "64 B" if z == "64" else "16 KiB"
    ours = med("wsprobe", z, "msgs")
    for s in ["wsprobe", "node-ws", "python-websockets", "wsprobe-plain"]:
        m = med(s, z, "msgs")
        ratio = "" if s == "wsprobe" else f"{ours / m:.1f}x" if m == m and m > 0 else "n/a"
        name = {"wsprobe-plain": "wsprobe, no compression", "wsprobe": "wsprobe --deflate",
                "node-ws": "Node ws (perMessageDeflate)", "python-websockets": "Python websockets (compression on)"}[s]
        print(f"| {name} | {zs} | {m:,.0f} | {ratio} | {med(s, z, 'cpu'):.1f} µs | {med(s, z, 'p50'):,.0f} µs | {int(sum(vals[(s, z, 'bad')]))} |")
PY
cat "$OUT"
