#!/usr/bin/env bash
# Creates the topics declared in topics.conf, idempotently. An existing topic keeps its partitions;
# when KAFKA_CONFIGS_CMD is set, its configs are brought to the declared ones (so that a tighter
# compaction bound reaches a broker created before it).
#   create-topics.sh BOOTSTRAP [DECLARATION]
# KAFKA_TOPICS_CMD is the kafka-topics command: /opt/kafka/bin/kafka-topics.sh in the apache/kafka
# image (docker-compose), infra/kafka.sh topic-command locally; KAFKA_CONFIGS_CMD the kafka-configs
# one, with KAFKA_COMMAND_CONFIG the admin's client properties on a SASL broker.
set -euo pipefail
bootstrap=${1:?bootstrap servers}
declaration=${2:-$(dirname "$0")/topics.conf}
cmd=${KAFKA_TOPICS_CMD:-kafka-topics.sh}
replication=${TOPIC_REPLICATION_FACTOR:-1}

existing=$($cmd --bootstrap-server "$bootstrap" --list)
configs_cmd=${KAFKA_CONFIGS_CMD:-}
command_config=()
[[ -n "${KAFKA_COMMAND_CONFIG:-}" ]] && command_config=(--command-config "$KAFKA_COMMAND_CONFIG")

# "topic key=value" for every dynamic config of every topic, read once (one tool run, not one
# per topic): only a topic whose declared configs differ is altered.
current=""
if [[ -n "$configs_cmd" && -n "$existing" ]]; then
  current=$($configs_cmd --bootstrap-server "$bootstrap" "${command_config[@]}" --describe \
    --entity-type topics </dev/null |
    awk '/^Dynamic configs for topic /{topic=$5; next} /^  /{print topic, $1}')
fi
differs() { # topic "k=v,k=v" -> 0 when a declared pair is not the topic's current one
  local pair
  IFS=',' read -ra wanted <<<"$2"
  for pair in "${wanted[@]}"; do
    grep -qxF "$1 $pair" <<<"$current" || return 0
  done
  return 1
}

created=0
altered=0
while read -r name partitions configs _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  if grep -qxF "$name" <<<"$existing"; then
    if [[ -n "$configs_cmd" && -n "${configs:-}" ]] && differs "$name" "$configs"; then
      $configs_cmd --bootstrap-server "$bootstrap" "${command_config[@]}" --alter \
        --entity-type topics --entity-name "$name" --add-config "$configs" </dev/null >/dev/null
      altered=$((altered + 1))
    fi
    continue
  fi
  args=(--bootstrap-server "$bootstrap" --create --if-not-exists --topic "$name"
    --partitions "$partitions" --replication-factor "$replication")
  if [[ -n "${configs:-}" ]]; then
    IFS=',' read -ra pairs <<<"$configs"
    for pair in "${pairs[@]}"; do args+=(--config "$pair"); done
  fi
  $cmd "${args[@]}" >/dev/null
  created=$((created + 1))
done <"$declaration"
echo "[topics] $created created, $altered brought to the declared configs, $(grep -cvE '^\s*(#|$)' "$declaration") declared on $bootstrap" >&2
