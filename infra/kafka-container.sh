#!/usr/bin/env bash
# The docker-compose Kafka node (apache/kafka image): one KRaft broker and controller with
# SASL/SCRAM and ACLs, the same security as `infra/kafka.sh start --sasl` (infra/kafka-security.sh).
#
# The image's own start-up renders its configuration from KAFKA_* variables and formats the
# storage without SCRAM credentials; the admin account must be in the metadata before the broker
# starts (it logs in to itself with it), so this script writes the configuration, formats the
# volume once with the admin's credential, and starts the broker.
#
# Listeners: INTERNAL kafka:9092 (containers, inter-broker), EXTERNAL localhost:KAFKA_EXTERNAL_PORT
# (clients on the host), CONTROLLER :9093 (KRaft); all SASL_PLAINTEXT.
# Environment: CLUSTER_ID, KAFKA_ADMIN_PASSWORD (required), KAFKA_EXTERNAL_PORT (29092).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${CLUSTER_ID:?CLUSTER_ID is not set}" "${KAFKA_ADMIN_PASSWORD:?KAFKA_ADMIN_PASSWORD is not set}"
config=/tmp/eci-kafka
data=/var/lib/kafka/data
umask 077
mkdir -p "$config"

cat >"$config/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
listeners=INTERNAL://:9092,EXTERNAL://:29092,CONTROLLER://:9093
advertised.listeners=INTERNAL://kafka:9092,EXTERNAL://localhost:${KAFKA_EXTERNAL_PORT:-29092}
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
controller.quorum.voters=1@kafka:9093
log.dirs=$data
auto.create.topics.enable=false
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Part of the contacts topic's erasure bound (infra/topics.conf): Kafka's default, written down.
log.cleaner.backoff.ms=15000
PROPS
bash "$here/kafka-security.sh" broker-properties INTERNAL EXTERNAL >>"$config/server.properties"
# For the healthcheck, which asks the broker as the admin.
bash "$here/kafka-security.sh" client-properties >"$config/admin.properties"

mapfile -t scram < <(bash "$here/kafka-security.sh" format-args)
((${#scram[@]} > 0)) || exit 1
# Quiet: it would print the admin's salted credential. A formatted volume is left as it is.
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "$CLUSTER_ID" \
  --config "$config/server.properties" "${scram[@]}" >/dev/null
echo "[kafka] storage in $data formatted (cluster $CLUSTER_ID), starting with SASL/SCRAM and ACLs"
exec /opt/kafka/bin/kafka-server-start.sh "$config/server.properties"
