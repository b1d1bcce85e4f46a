#!/usr/bin/env bash
# schemathesis.sh: fuzzes the Device API from its own OpenAPI description.
#
# Serves the debug build on a free loopback port with a fresh SQLite database, creates a
# merchant, a location and an API key with the command line, and runs schemathesis (from
# PyPI, in a virtualenv under target/, installed when missing) against
# /ipp/v1/openapi.json with that key. It fails on any server error, any status, content
# type or body the description does not declare. The number of examples and the seed are
# fixed, so a run is repeatable and takes a couple of minutes; SCHEMATHESIS_EXAMPLES and
# SCHEMATHESIS_SEED change them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"

SCHEMATHESIS_VERSION="4.32.5"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-300}"
SEED="${SCHEMATHESIS_SEED:-20261127}"
VENV="$ROOT/target/schemathesis-venv"
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

# Python's venv module: Debian ships it apart from python3.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "==> installing python3-venv from Debian's packages"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" >/dev/null 2>&1; then
  echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "==> building the server"
cargo build --quiet -p server --bin ipp-portal
IPP="$BIN_DIR/ipp-portal"

WORK="$(mktemp -d /tmp/ipp-portal-fuzz.XXXXXX)"
SERVER_PID=""
stop() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap stop EXIT

export DATABASE_URL="sqlite://$WORK/fuzz.db"
json_field() { python3 -c "import json, sys; print(json.loads(sys.stdin.readline())['$1'])"; }
MERCHANT="$("$IPP" merchant create --name "Fuzz Merchant" 2>/dev/null | json_field id)"
"$IPP" location create --merchant "$MERCHANT" --name "Main Street" --city Stockholm >/dev/null 2>&1
KEY="$("$IPP" api-key create --merchant "$MERCHANT" --name fuzz 2>/dev/null | json_field key)"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
# Failed pairing attempts are many in a fuzz run: limits high enough to reach the other
# answers too (429 is declared and checked all the same).
RUST_LOG=warn "$IPP" serve --addr "127.0.0.1:$PORT" \
  --registration-failures-per-address 1000000 --registration-failures-global 1000000 \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('$BASE/ipp/v1/openapi.json', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.2
done

echo "==> schemathesis $SCHEMATHESIS_VERSION: $EXAMPLES examples per operation, seed $SEED, against $BASE"
status=0
# From the scratch folder: schemathesis keeps a cache in the folder it runs in.
cd "$WORK"
"$VENV/bin/schemathesis" run "$BASE/ipp/v1/openapi.json" \
  --url "$BASE" \
  --header "Authorization: Bearer $KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$EXAMPLES" \
  --seed "$SEED" \
  --generation-database none \
  --workers 1 \
  --no-color || status=$?
if [ "$status" != 0 ]; then
  echo "==> server log (last 40 lines)"
  tail -n 40 "$WORK/server.log"
fi
exit "$status"
