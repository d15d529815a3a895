#!/usr/bin/env bash
# Installs the pinned third-party WebSocket peers used by the integration tests:
#   target/peers/venv  Python venv from tests/peers/requirements.txt
#   target/peers/node  node_modules from tests/peers/package{,-lock}.json
# Idempotent (skips when the stamp matches the pinned files' hash) and safe to
# run concurrently (serialised with flock). Works from any cwd.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
peers=tests/peers
out=target/peers
stamp=$out/stamp

fail() { echo "setup-peers: FAILED: $*" >&2; exit 1; }

for tool in python3 node npm flock sha256sum; do
  command -v "$tool" >/dev/null || fail "'$tool' not found on PATH"
done

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9 || fail "could not lock $root/$out/.lock"

want=$(cat "$peers/requirements.txt" "$peers/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" \
      && -x $out/venv/bin/python && -d $out/node/node_modules/ws ]]; then
  echo "setup-peers: up to date ($root/$out)"
  exit 0
fi

rm -f "$stamp"
log=$out/setup.log
: >"$log"

rm -rf "$out/venv"
python3 -m venv "$out/venv" >>"$log" 2>&1 \
  || fail "python3 -m venv failed (is python3-venv installed?); see $root/$log"
"$out/venv/bin/pip" install --disable-pip-version-check -q -r "$peers/requirements.txt" >>"$log" 2>&1 \
  || fail "pip install -r $peers/requirements.txt failed; see $root/$log"

rm -rf "$out/node"
mkdir -p "$out/node"
cp "$peers/package.json" "$peers/package-lock.json" "$out/node/"
(cd "$out/node" && npm ci --no-audit --no-fund) >>"$log" 2>&1 \
  || fail "npm ci in $out/node failed; see $root/$log"

echo "$want" >"$stamp"
echo "setup-peers: installed Python and Node peers into $root/$out"
