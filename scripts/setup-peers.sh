#!/usr/bin/env bash
# Installs the pinned third-party WebSocket peers used by the integration tests:
#   target/peers/venv  Python venv from tests/peers/requirements.txt
#   target/peers/node  node_modules from tests/peers/package{,-lock}.json
#   mosquitto          Debian's MQTT broker (apt-get, as root) when not on PATH
#   rabbitmq-server    Debian's RabbitMQ (apt-get, as root) when missing; its
#                      STOMP-over-WebSocket plugin is tests/peers/py_rabbitmq.py
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

# Debian packages for the real brokers, installed once, outside the stamp:
# mosquitto (MQTT over WebSocket, tests/peers/py_mosquitto.py) and
# rabbitmq-server (STOMP over WebSocket, tests/peers/py_rabbitmq.py). The
# peers run private instances; the packages' own services are not wanted, so
# the install runs with a policy-rc.d that forbids starting them (unless the
# system has one already, as Docker images do) and, under systemd, they are
# disabled afterwards. apt waits for a dpkg lock held by another apt
# (DPkg::Lock::Timeout) instead of failing.
rabbitmq_server=/usr/lib/rabbitmq/bin/rabbitmq-server
have_mosquitto() { command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]]; }
have_rabbitmq() { [[ -x $rabbitmq_server ]]; }
policy=/usr/sbin/policy-rc.d
own_policy=
drop_policy() { if [[ -n $own_policy ]]; then rm -f "$policy"; own_policy=; fi; }
trap drop_policy EXIT
trap 'exit 1' INT TERM HUP
apt_install() { # PACKAGE: installs it with apt-get, or fails saying why
  local pkg=$1
  [[ $(id -u) == 0 ]] || fail "$pkg is not installed and we are not root to apt-get it (run: sudo apt-get install $pkg)"
  command -v apt-get >/dev/null || fail "$pkg is not installed and there is no apt-get"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
  local alog=$out/apt.log
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# setup-peers.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  # Try the package lists we have first; refresh them only when that fails.
  if ! "${apt[@]}" install "$pkg" >"$alog" 2>&1; then
    "${apt[@]}" update >>"$alog" 2>&1 || fail "apt-get update failed; see $root/$alog"
    "${apt[@]}" install "$pkg" >>"$alog" 2>&1 || fail "apt-get install $pkg failed; see $root/$alog"
  fi
  drop_policy
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$pkg" >>"$alog" 2>&1 || true
  fi
}
if ! have_mosquitto; then
  apt_install mosquitto
  have_mosquitto || fail "mosquitto still not found after apt-get install; see $root/$out/apt.log"
  echo "setup-peers: installed mosquitto ($(/usr/sbin/mosquitto -h 2>/dev/null | head -1 || true))"
fi
if ! have_rabbitmq; then
  apt_install rabbitmq-server
  have_rabbitmq || fail "$rabbitmq_server still not found after apt-get install; see $root/$out/apt.log"
  echo "setup-peers: installed rabbitmq-server ($(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || true))"
fi

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
