#!/usr/bin/env bash
# A real Apache Kafka broker for local runs and tests: one KRaft node (broker and controller)
# on 127.0.0.1, its jars resolved from Maven Central into the cache folder.
#
#   infra/kafka.sh fetch|start [--sasl]|stop|kill|status|topics|accounts|admin-config|bootstrap|mode
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1), KAFKA_VERSIONS (releases tried,
# newest first), ECI_CACHE_DIR, ECI_STATE_DIR, KAFKA_HEAP (512m).
#
# SASL mode (`start --sasl`, or KAFKA_SASL=1): clients log in with SASL/SCRAM on KAFKA_PORT
# (SASL_PLAINTEXT, SCRAM-SHA-512 or -256) and the StandardAuthorizer refuses whatever no ACL
# allows (infra/kafka-security.sh). Once the broker answers, `accounts` creates the accounts of
# infra/kafka-accounts.conf with the rights of infra/kafka-acls.conf. Passwords come from
# KAFKA_ADMIN_PASSWORD and the variables named in kafka-accounts.conf; those left unset get
# development values (eci-dev-<account>-password), for local development only. The admin password
# is fixed when the node is formatted and kept in its folder; `admin-config` prints the path of
# the admin's client properties (for --command-config). A node stays in the mode it was
# formatted in; each mode has its own node folder (kafka-<port>, kafka-<port>-sasl), so switching
# mode needs only the running broker stopped (`make stop`). `mode` prints the mode of the node
# in use (sasl or plaintext).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSIONS="${KAFKA_VERSIONS:-4.4.0 4.3.1 4.2.1 4.1.2 4.0.2 3.9.1}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_SASL="${KAFKA_SASL:-}" # 1 or 0; unset: the node that runs, else as formatted (PLAINTEXT for a new node)
[[ "${1:-}" == start && "${2:-}" == --sasl ]] && KAFKA_SASL=1
# One node folder per mode (`make run` is SASL, `make test` PLAINTEXT), so that switching needs a
# stop, never a purge: kafka-<port> (PLAINTEXT, or SASL when formatted so before) and
# kafka-<port>-sasl. With KAFKA_SASL unset, the one whose broker runs, else the one that exists.
node_dir_for() { # sasl|plaintext
  if [[ "$1" == sasl ]]; then echo "$ECI_STATE_DIR/kafka-$KAFKA_PORT-sasl"; else echo "$ECI_STATE_DIR/kafka-$KAFKA_PORT"; fi
}
if [[ "$KAFKA_SASL" == 1 ]]; then
  NODE_DIR=$(node_dir_for sasl)
elif [[ "$KAFKA_SASL" == 0 ]]; then
  NODE_DIR=$(node_dir_for plaintext)
elif pid_alive "$(node_dir_for sasl)/kafka.pid" ||
  { [[ -d "$(node_dir_for sasl)" ]] && ! pid_alive "$(node_dir_for plaintext)/kafka.pid" && [[ ! -f "$(node_dir_for plaintext)/data/meta.properties" ]]; }; then
  NODE_DIR=$(node_dir_for sasl)
else
  NODE_DIR=$(node_dir_for plaintext)
fi
PIDFILE="$NODE_DIR/kafka.pid"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
MODE_FILE="$NODE_DIR/security-mode"
ADMIN_PASSWORD_FILE="$NODE_DIR/admin-password"
ADMIN_CONFIG="$NODE_DIR/admin-client.properties"

libs_dir() {
  local version
  for version in $KAFKA_VERSIONS; do
    if [[ -f "$ECI_CACHE_DIR/kafka-$version/libs/.complete" ]]; then
      echo "$ECI_CACHE_DIR/kafka-$version/libs"
      return 0
    fi
  done
  return 1
}

fetch() {
  if libs_dir >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the Kafka jars"
  local version target errors=""
  for version in $KAFKA_VERSIONS; do
    target="$ECI_CACHE_DIR/kafka-$version/libs"
    log "resolving Apache Kafka $version from Maven Central"
    rm -rf "$target"
    mkdir -p "$target"
    if mvn -q -B -f "$INFRA_DIR/kafka/pom.xml" dependency:copy-dependencies \
      -Dkafka.version="$version" -DincludeScope=runtime -DoutputDirectory="$target" \
      >"$ECI_CACHE_DIR/kafka-$version/mvn.log" 2>&1; then
      touch "$target/.complete"
      log "Apache Kafka $version resolved ($(find "$target" -name '*.jar' | wc -l) jars)"
      return 0
    fi
    errors+=$'\n'"$version: $(grep -m1 -E 'ERROR' "$ECI_CACHE_DIR/kafka-$version/mvn.log" || true)"
  done
  die "no Kafka release resolved:$errors"
}

tool() { # main-class args...: a Kafka command-line tool, quiet
  # A tool lives a second or two: the C1 compiler alone and the serial collector halve the CPU
  # its start costs, which counts when `accounts` runs a score of them on two cores.
  local libs
  libs=$(libs_dir) || die "Kafka jars missing: run infra/kafka.sh fetch"
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$INFRA_DIR/kafka/tools-log4j2.xml" -cp "$libs/*" "$@"
}

admin_tool() { # main-class args...: a tool that talks to the broker, as the admin in SASL mode
  if [[ -f "$ADMIN_CONFIG" ]]; then
    tool "$@" --command-config "$ADMIN_CONFIG"
  else
    tool "$@"
  fi
}

answers_metadata() {
  admin_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1
}

sasl_mode() { [[ "$(cat "$MODE_FILE" 2>/dev/null || echo plaintext)" == sasl ]]; }
mode() { if sasl_mode; then echo sasl; else echo plaintext; fi; }

prepare_security() { # decides the node's mode, and in SASL mode its admin password and client config
  local wanted=plaintext
  [[ "$KAFKA_SASL" == 1 || "$NODE_DIR" == *-sasl ]] && wanted=sasl
  if [[ -f "$NODE_DIR/data/meta.properties" ]]; then
    local formatted
    formatted=$(cat "$MODE_FILE" 2>/dev/null || echo plaintext)
    [[ -z "$KAFKA_SASL" || "$formatted" == "$wanted" ]] ||
      die "the node in $NODE_DIR was formatted in $formatted mode, not $wanted: delete its data (infra/down.sh --purge) or choose another ECI_STATE_DIR"
  else
    mkdir -p "$NODE_DIR"
    echo "$wanted" >"$MODE_FILE"
    rm -f "$ADMIN_PASSWORD_FILE" "$ADMIN_CONFIG"
    if [[ "$wanted" == sasl ]]; then
      (umask 077 && echo "${KAFKA_ADMIN_PASSWORD:-eci-dev-admin-password}" >"$ADMIN_PASSWORD_FILE")
    fi
  fi
  if sasl_mode; then
    KAFKA_ADMIN_PASSWORD=$(cat "$ADMIN_PASSWORD_FILE")
    export KAFKA_ADMIN_PASSWORD
    (umask 077 && "$INFRA_DIR/kafka-security.sh" client-properties >"$ADMIN_CONFIG")
  fi
}

write_config() {
  mkdir -p "$NODE_DIR/data" "$NODE_DIR/logs"
  local client=PLAINTEXT protocol=PLAINTEXT
  if sasl_mode; then
    client=CLIENT protocol=SASL_PLAINTEXT
  fi
  (umask 077 && cat >"$NODE_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
listeners=$client://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=$client://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=$client
listener.security.protocol.map=$client:$protocol,CONTROLLER:$protocol
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
log.dirs=$NODE_DIR/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.flush.interval.messages=1
# The cleaner's pause when it finds nothing to clean: part of the contacts topic's erasure bound
# (infra/topics.conf). Kafka's default, written down because the bound depends on it.
log.cleaner.backoff.ms=15000
PROPS
  )
  if sasl_mode; then
    "$INFRA_DIR/kafka-security.sh" broker-properties "$client" >>"$NODE_DIR/server.properties"
  fi
}

accounts() { # SASL mode: the accounts of kafka-accounts.conf with their rights (kafka-acls.conf)
  sasl_mode || die "the broker on $BOOTSTRAP runs without SASL: it has no accounts"
  local account variable
  while read -r account _ _ variable _; do
    [[ -z "$account" || "$account" == \#* ]] && continue
    if [[ -z "${!variable:-}" ]]; then
      export "$variable=eci-dev-$account-password"
    fi
  done <"$INFRA_DIR/kafka-accounts.conf"
  KAFKA_CONFIGS_CMD="$INFRA_DIR/kafka.sh configs-command" KAFKA_ACLS_CMD="$INFRA_DIR/kafka.sh acls-command" \
    "$INFRA_DIR/kafka-acls.sh" "$BOOTSTRAP" "$ADMIN_CONFIG"
}

start() {
  if pid_alive "$PIDFILE" && port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    log "Kafka already runs on $BOOTSTRAP (pid $(cat "$PIDFILE"), $(mode))"
    return 0
  fi
  local other
  for other in "$(node_dir_for sasl)" "$(node_dir_for plaintext)"; do
    if [[ "$other" != "$NODE_DIR" ]] && pid_alive "$other/kafka.pid"; then
      die "a broker in $(cat "$other/security-mode" 2>/dev/null || echo plaintext) mode already runs on $BOOTSTRAP ($other): stop it first (make stop), or choose another KAFKA_PORT"
    fi
  done
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$KAFKA_HOST" "$port"; then
      die "port $port on $KAFKA_HOST is in use by another process; choose KAFKA_PORT (and KAFKA_CONTROLLER_PORT) or stop that process"
    fi
  done
  fetch
  prepare_security
  write_config
  if [[ ! -f "$NODE_DIR/data/meta.properties" ]]; then
    local cluster_id scram=()
    cluster_id=$(tool kafka.tools.StorageTool random-uuid)
    if sasl_mode; then
      mapfile -t scram < <("$INFRA_DIR/kafka-security.sh" format-args)
    fi
    tool kafka.tools.StorageTool format -t "$cluster_id" -c "$NODE_DIR/server.properties" \
      "${scram[@]}" >/dev/null
    log "formatted KRaft storage in $NODE_DIR/data (cluster $cluster_id, $(cat "$MODE_FILE"))"
  fi
  # setsid: the broker outlives the shell that started it and gets no terminal signals.
  setsid java "-Xmx$KAFKA_HEAP" -Xms256m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dkafka.logs.dir="$NODE_DIR/logs" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.xml" \
    -cp "$(libs_dir)/*" kafka.Kafka "$NODE_DIR/server.properties" \
    >"$NODE_DIR/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  if ! wait_for_process "$PIDFILE" 90 "Kafka answers metadata requests on $BOOTSTRAP" answers_metadata; then
    tail -n 20 "$NODE_DIR/logs/server.log" "$NODE_DIR/logs/stdout.log" >&2 || true
    die "Kafka did not answer within 90s (logs in $NODE_DIR/logs)"
  fi
  if sasl_mode; then
    accounts
  fi
}

status() {
  if pid_alive "$PIDFILE" && answers_metadata; then
    echo "kafka: running on $BOOTSTRAP (pid $(cat "$PIDFILE"))"
  else
    echo "kafka: not running on $BOOTSTRAP"
    return 1
  fi
}

topics() { # declare the topics of infra/topics.conf
  local command_config=""
  sasl_mode && command_config="$ADMIN_CONFIG"
  KAFKA_TOPICS_CMD="$INFRA_DIR/kafka.sh topic-command" \
    KAFKA_CONFIGS_CMD="$INFRA_DIR/kafka.sh configs-command" KAFKA_COMMAND_CONFIG="$command_config" \
    "$INFRA_DIR/create-topics.sh" "$BOOTSTRAP" "$INFRA_DIR/topics.conf"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop_pid "$PIDFILE" Kafka 60 ;;
  kill) # for fault tests: an abrupt death
    if pid_alive "$PIDFILE"; then kill -KILL "$(cat "$PIDFILE")"; rm -f "$PIDFILE"; log "Kafka killed"; fi ;;
  status) status ;;
  topics) topics ;;
  accounts) accounts ;;
  admin-config) if sasl_mode; then echo "$ADMIN_CONFIG"; else die "the broker on $BOOTSTRAP runs without SASL"; fi ;;
  topic-command) shift; admin_tool org.apache.kafka.tools.TopicCommand "$@" ;;
  configs-command) shift; tool org.apache.kafka.tools.ConfigCommand "$@" ;;
  acls-command) shift; tool org.apache.kafka.tools.AclCommand "$@" ;;
  bootstrap) echo "$BOOTSTRAP" ;;
  mode) mode ;;
  *) die "usage: infra/kafka.sh fetch|start [--sasl]|stop|kill|status|topics|accounts|admin-config|bootstrap|mode" ;;
esac
