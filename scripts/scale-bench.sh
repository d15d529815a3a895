#!/usr/bin/env bash
# Open-loop latency beside the closed-loop maximum, and a load split over four
# worker processes (bench --shard I/4 --hdr-out, then bench merge) against the
# same load from one process. Against `wsprobe server` on loopback; every run is
# bounded in time. Prints Markdown (stdout and target/bench/scale.md).
#
#   1. closed loop, CONNS connections x 16 in flight: the maximum rate (MAX)
#   2. open loop (--rate) at 50 % and 90 % of MAX: latency from when each
#      message was due, and how far the rate achieved fell short
#   3. open loop at 50 % of MAX: one process, then 4 workers started together
#      (--start-at) and merged; both with the same total load
#
#   scripts/scale-bench.sh              # SECS=10 CONNS=50 by default (about 1 minute)
#   SECS=3 scripts/scale-bench.sh       # a quick look
#   BIN=/path/to/wsprobe scripts/scale-bench.sh   # a build of your own, no cargo
#
# On one machine the workers share its cores with each other and the server:
# row 3 shows that a merged result reads as one process's, not that four
# machines go faster.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-10}
CONNS=${CONNS:-50}
SIZE=${SIZE:-64}
OUT=${OUT:-target/bench/scale.md}
WORK=target/bench/scale
mkdir -p "$(dirname "$OUT")" "$WORK"
rm -f "$WORK"/*.json

if [ -z "${BIN:-}" ]; then
  echo "building (release)…" >&2
  ${CARGO:-cargo} build --release --quiet --bin wsprobe
  BIN=${CARGO_TARGET_DIR:-target}/release/wsprobe
fi
[ -x "$BIN" ] || { echo "BIN=$BIN is not an executable" >&2; exit 2; }
(( CONNS >= 4 )) || { echo "CONNS must be at least 4 (one per worker)" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" server "127.0.0.1:$port" --no-tui -q >/dev/null 2>&1 &
PID=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
  sleep 0.1
done
URL=ws://127.0.0.1:$port

bench() { "$BIN" bench "$URL" -s "$SIZE" -d "${SECS}s" --json "$@"; }

# field FILE EXPR: a figure from a --json report (python3 reads it).
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
ms() { field "$1" "'%.2f' % (d['rtt_us']['$2'] / 1000)"; }

row() { # label file
  local f=$2
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" \
    "$(field "$f" "d['rate'] and '%.0f' % d['rate'] or '-'")" \
    "$(field "$f" "'%.0f' % (d['achieved_rate'] or d['messages_per_sec'])")" \
    "$(field "$f" "d['rate_shortfall_pct'] is None and '-' or '%.1f %%' % d['rate_shortfall_pct']")" \
    "$(ms "$f" p50)" "$(ms "$f" p90)" "$(ms "$f" p99)" "$(ms "$f" max)"
}

echo "closed loop: $CONNS connections x 16 in flight, ${SECS}s…" >&2
bench -c "$CONNS" -w 16 > "$WORK/closed.json"
MAX=$(field "$WORK/closed.json" "'%.0f' % d['messages_per_sec']")
half=$(( MAX / 2 ))
ninety=$(( MAX * 9 / 10 ))

echo "open loop at $half and $ninety msg/s…" >&2
bench -c "$CONNS" --rate "$half" > "$WORK/open50.json"
bench -c "$CONNS" --rate "$ninety" > "$WORK/open90.json"

echo "4 workers at $half msg/s, started together, then merged…" >&2
start=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc)+d.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))')
pids=()
for i in 0 1 2 3; do
  bench -c "$CONNS" --rate "$half" --shard "$i/4" --start-at "$start" --hdr-out "$WORK/w$i.json" > "$WORK/worker$i.json" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
(( status == 0 )) || echo "a worker reported a failure (see $WORK/worker*.json)" >&2
"$BIN" bench merge "$WORK"/w[0-3].json --json > "$WORK/merged.json"
# The same load from one process, after the workers (never beside them).
bench -c "$CONNS" --rate "$half" > "$WORK/single.json"

{
  echo "wsprobe scale-bench: $CONNS connections, $SIZE-byte messages, ${SECS}s per run, $(nproc) cores"
  echo
  echo "| run | asked msg/s | sent msg/s | short of rate | p50 ms | p90 ms | p99 ms | max ms |"
  echo "|---|---|---|---|---|---|---|---|"
  row "closed loop, window 16 (max rate)" "$WORK/closed.json"
  row "open loop at 50 % of max" "$WORK/open50.json"
  row "open loop at 90 % of max" "$WORK/open90.json"
  row "50 %: one process" "$WORK/single.json"
  row "50 %: 4 workers merged" "$WORK/merged.json"
  echo
  echo "merged: $(field "$WORK/merged.json" "'%d results, %d connections, %d sent, %d measured, %d lost, %s errors' % (d['merged_files'], d['connections'], d['sent'], d['measured'], d['lost'], sum(d['errors'].values()))")"
  echo "single: $(field "$WORK/single.json" "'%d connections, %d sent, %d measured, %d lost, %s errors' % (d['connections'], d['sent'], d['measured'], d['lost'], sum(d['errors'].values()))")"
} | tee "$OUT"
