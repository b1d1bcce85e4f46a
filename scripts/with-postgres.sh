#!/usr/bin/env bash
# with-postgres.sh COMMAND...: runs COMMAND with TEST_POSTGRES_URL pointing at a PostgreSQL.
#
# When TEST_POSTGRES_URL is already set, that server is used as it is. Otherwise a throwaway
# cluster is created in a temporary folder (PostgreSQL from Debian's packages, installed when
# missing), listening on 127.0.0.1 on a free port, and removed when COMMAND ends.
#
# Plain `cargo test` skips the PostgreSQL half of the integration tests when no
# TEST_POSTGRES_URL is set; under this script a missing PostgreSQL is a failure instead.
set -euo pipefail

export IPP_REQUIRE_POSTGRES=1

if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  echo "==> PostgreSQL: using TEST_POSTGRES_URL"
  exec "$@"
fi

pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(pg_bin_dir)" ]; then
  echo "==> installing PostgreSQL from Debian's packages"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
BIN="$(pg_bin_dir)"

# PostgreSQL refuses to run as root: as root, run the cluster as the 'postgres' user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

DIR="$(mktemp -d /tmp/ipp-portal-pg.XXXXXX)"
[ "$(id -u)" = 0 ] && chown postgres: "$DIR"
# A free port, asked of the OS (Node.js is there on every machine this project runs on).
PORT="$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"

stop() {
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap stop EXIT

echo "==> starting a throwaway PostgreSQL ($("$BIN/postgres" --version)) on 127.0.0.1:$PORT"
as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 || {
  cat "$DIR/initdb.log"; exit 1; }
# Durability is not wanted from a database that lives for one test run.
as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null || { cat "$DIR/server.log"; exit 1; }

export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
"$@"
