#!/usr/bin/env bash
# Runs the three services as background processes on this machine, against the local
# infrastructure (infra/up.sh), with their logs under the state folder.
#
#   infra/services.sh start|stop|status|demo
#
# The REST APIs take bearer tokens signed with AUTH_JWT_SECRET: unless the environment sets
# one, a random key is made once and kept (mode 600) in the state folder. `demo` seeds the demo
# data and prints one token per role.
#
# On a SASL broker (`make run`'s default, `infra/kafka.sh mode` says), each service logs in with
# its own account of infra/kafka-accounts.conf (registry, projects, notifications), its password
# from KAFKA_<ACCOUNT>_PASSWORD or the development value infra/kafka.sh gave it.
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

kafka_login() { # service -> the env assignments of its Kafka login (none on a PLAINTEXT broker)
  [[ "$("$INFRA_DIR/kafka.sh" mode)" == sasl ]] || return 0
  local variable="KAFKA_${1^^}_PASSWORD"
  printf '%s\n' KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT KAFKA_SASL_MECHANISM=SCRAM-SHA-512 \
    "KAFKA_SASL_USERNAME=$1" "KAFKA_SASL_PASSWORD=${!variable:-eci-dev-$1-password}"
}

start() {
  mkdir -p "$SERVICES_DIR"
  local name port pidfile login
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
    mapfile -t login < <(kafka_login "$name")
    (cd "$REPO_DIR" && setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" \
      env "${login[@]}" "$REPO_DIR/.venv/bin/python" -m "eci_$name" \
      >>"$SERVICES_DIR/$name.log" 2>&1 </dev/null &)
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
  kafka-login) kafka_login "${2:?service}" ;; # what `start` gives that service (for checks)
  *) die "usage: infra/services.sh start|stop|status|demo|kafka-login SERVICE" ;;
esac
