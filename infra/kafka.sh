#!/usr/bin/env bash
# A real Apache Kafka broker for local runs and tests: one KRaft node (broker and controller)
# on 127.0.0.1, its jars resolved from Maven Central into the cache folder.
#
#   infra/kafka.sh fetch|start|stop|kill|status|topics
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1), KAFKA_VERSIONS (releases tried,
# newest first), ECI_CACHE_DIR, ECI_STATE_DIR, KAFKA_HEAP (512m).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSIONS="${KAFKA_VERSIONS:-4.4.0 4.3.1 4.2.1 4.1.2 4.0.2 3.9.1}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
NODE_DIR="$ECI_STATE_DIR/kafka-$KAFKA_PORT"
PIDFILE="$NODE_DIR/kafka.pid"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

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

java_cmd() { # main-class args... with the broker classpath
  local libs
  libs=$(libs_dir) || die "Kafka jars missing: run infra/kafka.sh fetch"
  java "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true -cp "$libs/*" "$@"
}

tool() { # main-class args...: a Kafka command-line tool, quiet
  KAFKA_HEAP=256m java_cmd -Dlog4j2.configurationFile="$INFRA_DIR/kafka/tools-log4j2.xml" "$@"
}

answers_metadata() {
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1
}

write_config() {
  mkdir -p "$NODE_DIR/data" "$NODE_DIR/logs"
  cat >"$NODE_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
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
PROPS
}

start() {
  if pid_alive "$PIDFILE" && port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    log "Kafka already runs on $BOOTSTRAP (pid $(cat "$PIDFILE"))"
    return 0
  fi
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$KAFKA_HOST" "$port"; then
      die "port $port on $KAFKA_HOST is in use by another process; choose KAFKA_PORT (and KAFKA_CONTROLLER_PORT) or stop that process"
    fi
  done
  fetch
  write_config
  if [[ ! -f "$NODE_DIR/data/meta.properties" ]]; then
    local cluster_id
    cluster_id=$(tool kafka.tools.StorageTool random-uuid)
    tool kafka.tools.StorageTool format -t "$cluster_id" -c "$NODE_DIR/server.properties" >/dev/null
    log "formatted KRaft storage in $NODE_DIR/data (cluster $cluster_id)"
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
  KAFKA_TOPICS_CMD="$INFRA_DIR/kafka.sh topic-command" \
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
  topic-command) shift; tool org.apache.kafka.tools.TopicCommand "$@" ;;
  bootstrap) echo "$BOOTSTRAP" ;;
  *) die "usage: infra/kafka.sh fetch|start|stop|kill|status|topics|bootstrap" ;;
esac
