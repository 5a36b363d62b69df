#!/bin/bash
# Stops a cluster tests/infra/pg-up.sh started and removes its files.
#
#   tests/infra/pg-down.sh "$DSN"     (or the port alone)
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
arg=${1:?usage: pg-down.sh DSN|PORT}
if [[ "$arg" =~ ^[0-9]+$ ]]; then PGPORT=$arg; else PGPORT=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$arg"); fi
[ -n "$PGPORT" ] || { echo "pg-down: no port in '$arg'" >&2; exit 1; }
PGDIR=/tmp/berth-pg-$PGPORT
[ -d "$PGDIR/data" ] || { echo "pg-down: no cluster in $PGDIR" >&2; exit 1; }
if [ "$(id -un)" = postgres ]; then
  "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null
else
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null
fi
rm -rf "$PGDIR"
