#!/usr/bin/env bash
# Runs the three services as background processes on this machine, against the local
# infrastructure (infra/up.sh), with their logs under the state folder.
#
#   infra/services.sh start|stop|status|demo
#
# The REST APIs take bearer tokens signed by the issuer's private key; the services are given
# only the public keys (a JWKS file) and the revocation file. Unless the environment names them
# (AUTH_JWKS_FILE, AUTH_SIGNING_KEY_FILE), a key pair is made once with `eci-admin keys generate`
# and kept in the state folder (the private key mode 600). `demo` seeds the demo data and prints
# one token per role, signed with the private key (which the services never see).
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
CREDENTIALS_FILE="$ECI_STATE_DIR/demo-credentials.sh"
TOKEN_KEYS_DIR="$ECI_STATE_DIR/token-keys"
export AUTH_JWKS_FILE="${AUTH_JWKS_FILE:-$TOKEN_KEYS_DIR/jwks.json}"
export AUTH_REVOKED_JTI_FILE="${AUTH_REVOKED_JTI_FILE:-$TOKEN_KEYS_DIR/revoked-jti.txt}"
# Not exported: the services must not hold it; only `demo` (the issuer) is given it.
SIGNING_KEY_FILE="${AUTH_SIGNING_KEY_FILE:-$TOKEN_KEYS_DIR/signing-key.pem}"
unset AUTH_SIGNING_KEY_FILE

token_keys() {
  mkdir -p "$(dirname "$AUTH_REVOKED_JTI_FILE")"
  [[ -e "$AUTH_REVOKED_JTI_FILE" ]] || echo "# revoked tokens: <jti> [<exp>] (eci-admin revoke)" >"$AUTH_REVOKED_JTI_FILE"
  [[ -s "$SIGNING_KEY_FILE" && -s "$AUTH_JWKS_FILE" ]] && return
  [[ -e "$SIGNING_KEY_FILE" ]] && die "$SIGNING_KEY_FILE exists but $AUTH_JWKS_FILE does not: restore it or remove both"
  "$REPO_DIR/.venv/bin/eci-admin" keys generate --signing-key "$SIGNING_KEY_FILE" --jwks "$AUTH_JWKS_FILE" >/dev/null
  log "token key pair made: private $SIGNING_KEY_FILE, public $AUTH_JWKS_FILE"
}

ready() { curl -fsS "http://127.0.0.1:$1/health/ready" >/dev/null 2>&1; }

kafka_login() { # service -> the env assignments of its Kafka login (none on a PLAINTEXT broker)
  [[ "$("$INFRA_DIR/kafka.sh" mode)" == sasl ]] || return 0
  local variable="KAFKA_${1^^}_PASSWORD"
  printf '%s\n' KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT KAFKA_SASL_MECHANISM=SCRAM-SHA-512 \
    "KAFKA_SASL_USERNAME=$1" "KAFKA_SASL_PASSWORD=${!variable:-eci-dev-$1-password}"
}

start() {
  mkdir -p "$SERVICES_DIR"
  token_keys
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
    # Every descriptor of the whole subshell goes to the log, not only the service's: a process
    # left holding the caller's output would keep `make run | tee run.log` from ever returning.
    (cd "$REPO_DIR" && exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" \
      env "${login[@]}" "$REPO_DIR/.venv/bin/python" -m "eci_$name") \
      >>"$SERVICES_DIR/$name.log" 2>&1 </dev/null &
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
  token_keys
  (cd "$REPO_DIR" && AUTH_SIGNING_KEY_FILE="$SIGNING_KEY_FILE" "$REPO_DIR/.venv/bin/python" -m eci_registry.demo \
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
