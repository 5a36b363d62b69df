#!/bin/bash
# Starts a throwaway PostgreSQL cluster for the tests on a free 127.0.0.1
# port, as the `postgres` user (PostgreSQL refuses to run as root), with
# durability off (fsync, full-page writes) since nothing in it must survive.
# Prints the DSN of its database `registry_test` on stdout; everything else
# goes to stderr. Stop it with tests/infra/pg-down.sh DSN (or PORT).
#
#   DSN=$(tests/infra/pg-up.sh)
#
# PGBIN names the server's bin directory (default: Debian 12's PostgreSQL 15).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/initdb" ] || { echo "pg-up: no PostgreSQL server in $PGBIN (apt-get install postgresql)" >&2; exit 1; }

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

for _ in 1 2 3 4 5; do
  PGPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PGDIR=/tmp/berth-pg-$PGPORT
  mkdir "$PGDIR" 2>/dev/null && break
  PGDIR=
done
[ -n "$PGDIR" ] || { echo "pg-up: no free port found" >&2; exit 1; }
chown postgres:postgres "$PGDIR" 2>/dev/null || true
chmod 700 "$PGDIR"

as_postgres "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
  >"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log" >&2; exit 1; }
if ! as_postgres "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 30 start \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=off -c synchronous_commit=off \
      -c full_page_writes=off -c max_connections=300" >&2; then
  cat "$PGDIR/server.log" >&2
  exit 1
fi
psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c 'CREATE DATABASE registry_test' >&2
echo "pg-up: PostgreSQL on 127.0.0.1:$PGPORT, cluster in $PGDIR" >&2
echo "host=127.0.0.1 port=$PGPORT user=postgres dbname=registry_test"
