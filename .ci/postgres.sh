#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: the DuckLake catalog and Dagster's run storage run against it.
#
#   eval "$(bash .ci/postgres.sh start)"   # prints export lines: WATERSHOP_TEST_PG (a libpq DSN), WATERSHOP_PG_DIR
#   bash .ci/postgres.sh stop              # stops the cluster in $WATERSHOP_PG_DIR and removes the folder
#
# The cluster lives in a temporary folder, owned by the postgres user (initdb refuses root), listens on 127.0.0.1
# only, on a port that was free a moment before, with a random password: nothing else on the machine is touched.
# Everything but the export lines goes to stderr so that `eval` sees only those.
set -euo pipefail

PG_DB="${WATERSHOP_PG_DB:-watershop}"

pg_bin() {
  # Debian puts the server binaries under /usr/lib/postgresql/<major>/bin, not on PATH; take the newest.
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

ensure_installed() {
  if [ -z "$(pg_bin)" ]; then
    echo "postgres.sh: installing PostgreSQL with apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  ensure_installed
  local bin dir port password
  bin="$(pg_bin)"
  dir="$(mktemp -d /tmp/watershop-pg.XXXXXX)"
  port="$(free_port)"
  password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  chown postgres: "$dir"
  printf '%s\n' "$password" >"$dir/pwfile"
  chown postgres: "$dir/pwfile"
  chmod 600 "$dir/pwfile"
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 -E UTF8 >&2
  rm -f "$dir/pwfile"
  # TCP on loopback only; the Unix socket goes into the temp folder, away from the system's /var/run/postgresql.
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >&2
  runuser -u postgres -- "$bin/createdb" -h "$dir" -p "$port" -U postgres "$PG_DB" >&2
  echo "export WATERSHOP_PG_DIR='$dir'"
  echo "export WATERSHOP_TEST_PG='host=127.0.0.1 port=$port dbname=$PG_DB user=postgres password=$password'"
  echo "postgres.sh: PostgreSQL on 127.0.0.1:$port, database $PG_DB, folder $dir" >&2
}

stop() {
  local dir="${1:-${WATERSHOP_PG_DIR:-}}"
  if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
    echo "postgres.sh: nothing to stop" >&2
    return 0
  fi
  runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
  echo "postgres.sh: stopped and removed $dir" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *)
    echo "usage: $0 start|stop [dir]" >&2
    exit 2
    ;;
esac
