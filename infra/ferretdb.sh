#!/usr/bin/env bash
# A real MongoDB-wire server for local runs and tests: FerretDB v1.24.2, built once with
# `go install` into the cache folder, storing its data in PostgreSQL (infra/postgres.sh) or SQLite.
#
#   infra/ferretdb.sh fetch|start|stop|kill|status|uri
#
# Environment: FERRETDB_PORT (27017), FERRETDB_DEBUG_PORT (port+1000), FERRETDB_BACKEND
# (postgresql | sqlite), FERRETDB_SQLITE_SYNC (normal), POSTGRES_PORT, ECI_CACHE_DIR, ECI_STATE_DIR.
#
# Why PostgreSQL by default: FerretDB v1's SQLite tables index `_id` by an expression its own
# queries do not use, so every lookup and every update scans the collection and decodes JSON in
# SQLite. Its PostgreSQL backend still finds a document by scanning (FerretDB writes the filter
# as `_jsonb->'_id' @> $1`, which the `_id` index does not serve), but the scan is PostgreSQL's,
# and the write that follows uses the index: an update by `_id` is 5-10x faster at 1,000 to
# 10,000 documents, a version-guarded lookup ~90x (`uv run python bench/backends.py`). `stop`
# stops FerretDB only; the PostgreSQL server stops with infra/down.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FERRETDB_VERSION=v1.24.2
BIN="$ECI_CACHE_DIR/ferretdb-$FERRETDB_VERSION/bin/ferretdb"
NODE_DIR="$ECI_STATE_DIR/ferretdb-$FERRETDB_PORT"
PIDFILE="$NODE_DIR/ferretdb.pid"

fetch() {
  [[ -x "$BIN" ]] && return 0
  command -v go >/dev/null || die "Go is needed to build FerretDB"
  log "building FerretDB $FERRETDB_VERSION from the Go module proxy (once)"
  # `go install ...@v1.24.2` fetches the module but builds a binary that refuses to start: the
  # module carries no build/version/version.txt (its release process writes one). So fetch the
  # module with the go command, write that file into a copy, and build the copy.
  local src work
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d "$src" ]] || die "could not fetch github.com/FerretDB/FerretDB@$FERRETDB_VERSION"
  work="$ECI_CACHE_DIR/ferretdb-$FERRETDB_VERSION/src"
  rm -rf "$work"
  mkdir -p "$(dirname "$work")"
  cp -r "$src" "$work"
  chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" >"$work/build/version/version.txt"
  echo "go-module-proxy" >"$work/build/version/package.txt"
  (cd "$work" && go build -trimpath -o "$BIN" ./cmd/ferretdb)
  rm -rf "$work"
}

start() {
  if pid_alive "$PIDFILE" && port_open 127.0.0.1 "$FERRETDB_PORT"; then
    log "FerretDB already runs on 127.0.0.1:$FERRETDB_PORT (pid $(cat "$PIDFILE"))"
    return 0
  fi
  for port in "$FERRETDB_PORT" "$FERRETDB_DEBUG_PORT"; do
    if port_open 127.0.0.1 "$port"; then
      die "port $port on 127.0.0.1 is in use by another process; choose FERRETDB_PORT (and FERRETDB_DEBUG_PORT) or stop that process"
    fi
  done
  fetch
  mkdir -p "$NODE_DIR/data" "$NODE_DIR/state" "$NODE_DIR/logs"
  local storage
  case "$FERRETDB_BACKEND" in
    postgresql)
      "$INFRA_DIR/postgres.sh" database "$FERRETDB_PORT"
      storage=(--handler=postgresql --postgresql-url="$("$INFRA_DIR/postgres.sh" url "$FERRETDB_PORT")")
      ;;
    sqlite)
      # WAL with synchronous=NORMAL: a commit survives the process (kill -9 included) without an
      # fsync each; only a power cut can lose the last ones. This is the local and test
      # database; production runs MongoDB. FERRETDB_SQLITE_SYNC=full restores an fsync per commit.
      storage=(--handler=sqlite
        --sqlite-url="file:$NODE_DIR/data/?_pragma=synchronous(${FERRETDB_SQLITE_SYNC:-normal})")
      ;;
    *) die "FERRETDB_BACKEND must be postgresql or sqlite, not $FERRETDB_BACKEND" ;;
  esac
  setsid "$BIN" "${storage[@]}" \
    --listen-addr="127.0.0.1:$FERRETDB_PORT" --state-dir="$NODE_DIR/state" \
    --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" --telemetry=disable --log-level=warn \
    >"$NODE_DIR/logs/ferretdb.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  if ! wait_for_process "$PIDFILE" 30 "FerretDB listens on 127.0.0.1:$FERRETDB_PORT" port_open 127.0.0.1 "$FERRETDB_PORT"; then
    tail -n 20 "$NODE_DIR/logs/ferretdb.log" >&2 || true
    die "FerretDB did not start within 30s (log in $NODE_DIR/logs)"
  fi
}

status() {
  if pid_alive "$PIDFILE" && port_open 127.0.0.1 "$FERRETDB_PORT"; then
    echo "ferretdb: running on 127.0.0.1:$FERRETDB_PORT (pid $(cat "$PIDFILE"), $FERRETDB_BACKEND backend)"
  else
    echo "ferretdb: not running on 127.0.0.1:$FERRETDB_PORT"
    return 1
  fi
}

case "${1:-}" in
  fetch)
    fetch
    [[ "$FERRETDB_BACKEND" != postgresql ]] || "$INFRA_DIR/postgres.sh" fetch
    ;;
  start) start ;;
  stop) stop_pid "$PIDFILE" FerretDB 30 ;;
  kill) if pid_alive "$PIDFILE"; then kill -KILL "$(cat "$PIDFILE")"; rm -f "$PIDFILE"; log "FerretDB killed"; fi ;;
  status) status ;;
  uri) echo "mongodb://127.0.0.1:$FERRETDB_PORT/" ;;
  *) die "usage: infra/ferretdb.sh fetch|start|stop|kill|status|uri" ;;
esac
