# Shared helpers for the local infrastructure scripts (sourced, not executed).
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$INFRA_DIR/.." && pwd)"
# What is fetched (jars, binaries) is shared by every clone on the machine.
ECI_CACHE_DIR="${ECI_CACHE_DIR:-$HOME/.cache/eci}"
# What runs (data, logs, pid files) belongs to this clone unless told otherwise.
ECI_STATE_DIR="${ECI_STATE_DIR:-$REPO_DIR/.infra}"

KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
FERRETDB_PORT="${FERRETDB_PORT:-27017}"
FERRETDB_DEBUG_PORT="${FERRETDB_DEBUG_PORT:-$((FERRETDB_PORT + 1000))}"
# FerretDB's storage: `postgresql` (default) or `sqlite`. See infra/ferretdb.sh.
FERRETDB_BACKEND="${FERRETDB_BACKEND:-postgresql}"
# One PostgreSQL server per clone, whatever FerretDB's port and state folder (a test's private
# FerretDB gets a database of its own on it).
POSTGRES_PORT="${POSTGRES_PORT:-29017}"
POSTGRES_STATE_DIR="${POSTGRES_STATE_DIR:-$REPO_DIR/.infra}"

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] error: %s\n' "$*" >&2; exit 1; }

port_open() { # host port -> 0 when something listens there
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

pid_alive() { # pidfile -> 0 when the recorded process runs
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for() { # seconds description command... -> polls the command until it succeeds
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.3
  done
  log "$what"
}

wait_for_process() { # pidfile seconds description command... -> as wait_for, fails fast if the process died
  local pidfile=$1 deadline=$((SECONDS + $2)) what=$3
  shift 3
  until "$@"; do
    if ! pid_alive "$pidfile"; then
      log "the process exited before it was ready"
      rm -f "$pidfile"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.3
  done
  log "$what"
}

stop_pid() { # pidfile name timeout
  local pidfile=$1 name=$2 timeout=${3:-30}
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    log "$name is not running"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$name did not stop within ${timeout}s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "$name stopped"
}
