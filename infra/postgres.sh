#!/usr/bin/env bash
# The PostgreSQL server behind FerretDB (its `postgresql` backend): the machine's PostgreSQL
# binaries, one cluster per clone, TCP on loopback only, trust authentication for the `eci` role.
# Each FerretDB keeps its data in a PostgreSQL database of its own, `ferretdb_<its port>`.
#
#   infra/postgres.sh fetch|start|stop|status|dir|url [FERRETDB_PORT]
#
# Environment: POSTGRES_PORT (29017), POSTGRES_STATE_DIR (the clone's .infra). PostgreSQL refuses
# to run as root: as root, the server runs as the `postgres` account (created by the package).
#
# Durability: `fsync=off`. A commit is written to the operating system before it returns, so it
# survives the server process being killed, but not a power cut. This is the local and test
# database (as FerretDB's SQLite backend with synchronous=normal was); production runs MongoDB.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROLE=eci

owner_reaches() { # dir -> 0 when the `postgres` account can enter every folder down to it
  (cd / && runuser -u postgres -- test -x "$1") 2>/dev/null
}

# As root the cluster belongs to the `postgres` account, which must be able to enter every folder
# above its data. A clone under a private folder (root's home is mode 700) is out of its reach: the
# cluster then lives in a folder of its own outside the clone, named after the clone, and
# `infra/down.sh --purge` deletes it just the same.
if [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then
  mkdir -p "$POSTGRES_STATE_DIR"
  if ! owner_reaches "$POSTGRES_STATE_DIR"; then
    clone_hash=$(printf '%s' "$REPO_DIR" | sha256sum | cut -c1-12)
    POSTGRES_STATE_DIR="${ECI_POSTGRES_PRIVATE_DIR:-/var/tmp/eci-postgres}/$clone_hash"
    install -d -m 755 "$(dirname "$POSTGRES_STATE_DIR")"
    install -d -m 700 -o postgres "$POSTGRES_STATE_DIR"
  fi
fi
NODE_DIR="$POSTGRES_STATE_DIR/postgres-$POSTGRES_PORT"
DATA_DIR="$NODE_DIR/data"

pg_bin_dir() {
  local found
  found=$(command -v pg_ctl 2>/dev/null || true)
  if [[ -n "$found" ]]; then
    dirname "$found"
    return 0
  fi
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$found" && -x "$found/pg_ctl" ]] && echo "$found"
}

fetch() {
  [[ -n "$(pg_bin_dir)" ]] && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing PostgreSQL from the distribution's packages (once)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  fi
  [[ -n "$(pg_bin_dir)" ]] || die "PostgreSQL (initdb, pg_ctl, postgres) is needed for FerretDB's backend: install the distribution's postgresql package"
}

as_owner() { # runs a PostgreSQL program as the cluster's owner
  if [[ $(id -u) -eq 0 ]]; then
    # From `/`: the caller's folder may be one the account cannot enter (a private home).
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

psql_admin() {
  local psql
  psql="$(pg_bin_dir)/psql"
  [[ -x "$psql" ]] || psql=$(command -v psql) || die "psql is needed (PostgreSQL's client)"
  "$psql" -X -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$ROLE" -d postgres "$@"
}

running() {
  port_open 127.0.0.1 "$POSTGRES_PORT" && [[ -f "$DATA_DIR/postmaster.pid" ]]
}

start() {
  fetch
  local bin
  bin=$(pg_bin_dir)
  if running; then
    return 0
  fi
  if port_open 127.0.0.1 "$POSTGRES_PORT"; then
    die "port $POSTGRES_PORT on 127.0.0.1 is in use by another process; choose POSTGRES_PORT or stop that process"
  fi
  mkdir -p "$NODE_DIR"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$NODE_DIR"
  fi
  if [[ $(id -u) -eq 0 ]] && ! owner_reaches "$NODE_DIR"; then
    die "the postgres account cannot enter $NODE_DIR: set POSTGRES_STATE_DIR to a folder it can reach"
  fi
  if [[ ! -f "$DATA_DIR/PG_VERSION" ]]; then
    as_owner "$bin/initdb" -D "$DATA_DIR" -U "$ROLE" --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$NODE_DIR/initdb.log" 2>&1 || { tail -n 20 "$NODE_DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  as_owner "$bin/pg_ctl" -D "$DATA_DIR" -l "$NODE_DIR/postgres.log" -w -t 60 start -o \
    "-p $POSTGRES_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=300 -c shared_buffers=128MB" \
    >/dev/null || { tail -n 20 "$NODE_DIR/postgres.log" >&2; die "PostgreSQL did not start (log in $NODE_DIR)"; }
  log "PostgreSQL listens on 127.0.0.1:$POSTGRES_PORT"
}

database() { # FERRETDB_PORT -> creates FerretDB's database if missing
  local name="ferretdb_$1"
  local found
  found=$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$name'")
  if [[ -z "$found" ]]; then
    psql_admin -c "CREATE DATABASE $name" >/dev/null
  fi
}

stop() {
  if [[ ! -f "$DATA_DIR/postmaster.pid" ]]; then
    log "PostgreSQL is not running"
    return 0
  fi
  as_owner "$(pg_bin_dir)/pg_ctl" -D "$DATA_DIR" -m fast -w -t 60 stop >/dev/null
  log "PostgreSQL stopped"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  database) start && database "${2:?FerretDB port}" ;;
  stop) stop ;;
  status)
    if running; then
      echo "postgresql: running on 127.0.0.1:$POSTGRES_PORT"
    else
      echo "postgresql: not running on 127.0.0.1:$POSTGRES_PORT"
      exit 1
    fi
    ;;
  dir) echo "$NODE_DIR" ;;
  url) echo "postgres://$ROLE@127.0.0.1:$POSTGRES_PORT/ferretdb_${2:-$FERRETDB_PORT}" ;;
  *) die "usage: $0 fetch|start|database FERRETDB_PORT|stop|status|dir|url [FERRETDB_PORT]" ;;
esac
