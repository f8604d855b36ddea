#!/usr/bin/env bash
# Creates the topics declared in topics.conf, idempotently (existing topics are left as they are).
#   create-topics.sh BOOTSTRAP [DECLARATION]
# KAFKA_TOPICS_CMD is the kafka-topics command: /opt/kafka/bin/kafka-topics.sh in the apache/kafka
# image (docker-compose), infra/kafka.sh topic-command locally.
set -euo pipefail
bootstrap=${1:?bootstrap servers}
declaration=${2:-$(dirname "$0")/topics.conf}
cmd=${KAFKA_TOPICS_CMD:-kafka-topics.sh}
replication=${TOPIC_REPLICATION_FACTOR:-1}

existing=$($cmd --bootstrap-server "$bootstrap" --list)
created=0
while read -r name partitions configs _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  if grep -qxF "$name" <<<"$existing"; then
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
echo "[topics] $created created, $(grep -cvE '^\s*(#|$)' "$declaration") declared on $bootstrap" >&2
