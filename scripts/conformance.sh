#!/usr/bin/env bash
# Runs the Autobahn|Testsuite against `wsprobe server` (fuzzingclient) and
# `wsprobe client --echo` (fuzzingserver), all on 127.0.0.1, and prints the counts.
# Uses the team's runners in ../shared/conformance (override with CONFORMANCE_DIR);
# the first run installs the suite (about 45 s, needs apt and PyPI).
#
#   scripts/conformance.sh            # both suites, all 517 cases each (about 1 minute)
#   scripts/conformance.sh server     # or only one of them
#   scripts/conformance.sh both --deflate   # with permessage-deflate (cases 12.* and 13.*)
#   BIN=path/to/wsprobe scripts/conformance.sh   # a binary already built
# Exit 0 when neither suite has a FAILED, WRONG CODE or UNCLEAN case.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUITE=${CONFORMANCE_DIR:-$ROOT/../shared/conformance}
WHICH=${1:-both}
DEFLATE=
[ "${2:-}" = --deflate ] && DEFLATE=--deflate
[ -x "$SUITE/install.sh" ] || { echo "error: no conformance runners at $SUITE (set CONFORMANCE_DIR)" >&2; exit 2; }

if [ -n "${BIN:-}" ]; then
  W=$(realpath "$BIN")
else
  cargo build --release --quiet --bin wsprobe || exit 2
  W=$ROOT/target/release/wsprobe
fi
bash "$SUITE/install.sh" >/tmp/wsprobe-conformance-install.log 2>&1 || {
  echo "error: installing the suite failed; see /tmp/wsprobe-conformance-install.log" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
status=0

if [ "$WHICH" = both ] || [ "$WHICH" = server ]; then
  port=$(free_port)
  "$W" server "127.0.0.1:$port" --no-tui -q $DEFLATE >/tmp/wsprobe-conformance-server.log 2>&1 &
  server=$!
  AUTOBAHN_AGENT=wsprobe-server bash "$SUITE/run-server-suite.sh" "127.0.0.1:$port" | tee /tmp/wsprobe-conformance-server.txt
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
fi

if [ "$WHICH" = both ] || [ "$WHICH" = client ]; then
  # The client side of the protocol, one wsprobe process per step: read the case
  # count, echo each case, then ask for the report.
  cat > /tmp/wsprobe-autobahn-client.sh <<CLIENT
#!/usr/bin/env bash
url=\$AUTOBAHN_URL agent=\$AUTOBAHN_AGENT
count=\$("$W" client "\$url/getCaseCount" --echo --json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l)
    if d.get("dir") == "in" and d.get("kind") == "text":
        print(d["text"]); break')
echo "getCaseCount: \$count"
for i in \$(seq 1 "\$count"); do
  "$W" client "\$url/runCase?case=\$i&agent=\$agent" --echo --no-tui -q $DEFLATE >/dev/null 2>&1 || true
done
"$W" client "\$url/updateReports?agent=\$agent" --echo --no-tui -q
CLIENT
  chmod +x /tmp/wsprobe-autobahn-client.sh
  AUTOBAHN_PORT=${AUTOBAHN_PORT:-$(free_port)} AUTOBAHN_AGENT=wsprobe-client \
    bash "$SUITE/run-client-suite.sh" /tmp/wsprobe-autobahn-client.sh | tee /tmp/wsprobe-conformance-client.txt
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

echo
echo "== wsprobe conformance: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
