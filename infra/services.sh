#!/usr/bin/env bash
# Runs the three services as background processes on this machine, against the local
# infrastructure (infra/up.sh), with their logs under the state folder.
#
#   infra/services.sh start|stop|status|demo
#
# The REST APIs take bearer tokens signed with AUTH_JWT_SECRET: unless the environment sets
# one, a random key is made once and kept (mode 600) in the state folder. `demo` seeds the demo
# data and prints one token per role.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES_DIR="$ECI_STATE_DIR/services"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-$KAFKA_HOST:$KAFKA_PORT}"
export MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:$FERRETDB_PORT/}"
export LOG_FORMAT="${LOG_FORMAT:-json}"
declare -A PORTS=(
  [registry]="${REGISTRY_HTTP_PORT:-8001}"
  [projects]="${PROJECTS_HTTP_PORT:-8002}"
  [notifications]="${NOTIFICATIONS_HTTP_PORT:-8003}"
)
ORDER=(registry projects notifications)
AUTH_SECRET_FILE="$ECI_STATE_DIR/auth-jwt-secret"
CREDENTIALS_FILE="$ECI_STATE_DIR/demo-credentials.sh"

if [[ -z "${AUTH_JWT_SECRET:-}" ]]; then
  if [[ ! -s "$AUTH_SECRET_FILE" ]]; then
    mkdir -p "$ECI_STATE_DIR"
    (umask 077 && "$REPO_DIR/.venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$AUTH_SECRET_FILE")
  fi
  AUTH_JWT_SECRET="$(cat "$AUTH_SECRET_FILE")"
  export AUTH_JWT_SECRET
fi

ready() { curl -fsS "http://127.0.0.1:$1/health/ready" >/dev/null 2>&1; }

start() {
  mkdir -p "$SERVICES_DIR"
  local name port pidfile
  for name in "${ORDER[@]}"; do
    port=${PORTS[$name]}
    pidfile="$SERVICES_DIR/$name.pid"
    if pid_alive "$pidfile"; then
      log "$name already runs (pid $(cat "$pidfile"))"
      continue
    fi
    port_open 127.0.0.1 "$port" && die "port $port is in use: set ${name^^}_HTTP_PORT or stop that process"
    # The service writes its own pid: `setsid` forks when it leads a process group, and `$!`
    # would then name a process that has already exited.
    # Every descriptor of the whole subshell goes to the log, not only the service's: a process
    # left holding the caller's output would keep `make run | tee run.log` from ever returning.
    (cd "$REPO_DIR" && exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" \
      "$REPO_DIR/.venv/bin/python" -m "eci_$name") >>"$SERVICES_DIR/$name.log" 2>&1 </dev/null &
    for _ in {1..50}; do [[ -s "$pidfile" ]] && break; sleep 0.1; done
  done
  for name in "${ORDER[@]}"; do
    port=${PORTS[$name]}
    wait_for_process "$SERVICES_DIR/$name.pid" 60 "$name ready on http://127.0.0.1:$port" ready "$port" ||
      die "$name did not become ready (log: $SERVICES_DIR/$name.log)"
  done
}

stop() {
  local name
  for name in "${ORDER[@]}"; do
    stop_pid "$SERVICES_DIR/$name.pid" "$name" 30
  done
}

status() {
  local name port
  for name in "${ORDER[@]}"; do
    port=${PORTS[$name]}
    if ready "$port"; then echo "$name: ready on http://127.0.0.1:$port"; else echo "$name: not ready"; fi
  done
}

demo() {
  (cd "$REPO_DIR" && "$REPO_DIR/.venv/bin/python" -m eci_registry.demo \
    --url "http://127.0.0.1:${PORTS[registry]}" --credentials "$CREDENTIALS_FILE")
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  demo) demo ;;
  *) die "usage: infra/services.sh start|stop|status|demo" ;;
esac
