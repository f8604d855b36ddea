#!/usr/bin/env bash
# Runs the three services as background processes on this machine, against the local
# infrastructure (infra/up.sh), with their logs under the state folder.
#
#   infra/services.sh start|stop|status
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
    (cd "$REPO_DIR" && setsid "$REPO_DIR/.venv/bin/python" -m "eci_$name" \
      >>"$SERVICES_DIR/$name.log" 2>&1 </dev/null &
      echo $! >"$pidfile")
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

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: infra/services.sh start|stop|status" ;;
esac
