#!/usr/bin/env bash
# The broker's SASL/SCRAM and ACL settings, written once for the local broker
# (`infra/kafka.sh start --sasl`) and the docker-compose one (infra/kafka-container.sh).
#
#   kafka-security.sh broker-properties INTER_BROKER_LISTENER [OTHER_SASL_LISTENER...]
#   kafka-security.sh client-properties    the admin account's client config (--command-config)
#   kafka-security.sh format-args          the `kafka-storage format` arguments adding the admin
#
# Every listener named here speaks SASL_PLAINTEXT with SCRAM-SHA-512 or SCRAM-SHA-256; the caller
# maps them (and CONTROLLER) to SASL_PLAINTEXT in listener.security.protocol.map. The controller
# listener uses SASL/PLAIN, because KRaft keeps SCRAM credentials in the metadata log that the
# controller serves, so it cannot check them itself.
#
# One super user, KAFKA_ADMIN_USER (admin): the broker logs in as it to its controller and to
# itself, and operators' tools use it. Its SCRAM credential is written into the metadata at format
# time; every other account is an ordinary user with ACLs (infra/kafka-acls.sh). Nothing is
# allowed without an ACL (allow.everyone.if.no.acl.found=false).
#
# Environment: KAFKA_ADMIN_PASSWORD (required), KAFKA_ADMIN_USER (admin).
set -euo pipefail

die() { printf '[kafka-security] error: %s\n' "$*" >&2; exit 1; }

ADMIN_USER=${KAFKA_ADMIN_USER:-admin}
ADMIN_PASSWORD=${KAFKA_ADMIN_PASSWORD:-}
[[ -n "$ADMIN_PASSWORD" ]] || die "KAFKA_ADMIN_PASSWORD is not set"
# The password goes into JAAS strings and `[password=...]` lists: keep it to characters that need
# no quoting in either (and in a MongoDB-style URI), which random tokens satisfy.
[[ "$ADMIN_PASSWORD" =~ ^[A-Za-z0-9._~+/-]{8,}$ ]] ||
  die "KAFKA_ADMIN_PASSWORD: use at least 8 of A-Z a-z 0-9 . _ ~ + / -"
[[ "$ADMIN_USER" =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_ADMIN_USER: use A-Z a-z 0-9 . _ -"

SCRAM=org.apache.kafka.common.security.scram.ScramLoginModule
PLAIN=org.apache.kafka.common.security.plain.PlainLoginModule

broker_properties() {
  local inter=${1:?inter-broker listener} listener lower
  cat <<PROPS
# --- SASL/SCRAM and ACLs (infra/kafka-security.sh) ---
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$PLAIN required username="$ADMIN_USER" password="$ADMIN_PASSWORD" user_$ADMIN_USER="$ADMIN_PASSWORD";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$ADMIN_USER
PROPS
  for listener in "$@"; do
    lower=${listener,,}
    if [[ "$listener" == "$inter" ]]; then
      # The broker's own login on its inter-broker listener.
      echo "listener.name.$lower.scram-sha-512.sasl.jaas.config=$SCRAM required username=\"$ADMIN_USER\" password=\"$ADMIN_PASSWORD\";"
    else
      echo "listener.name.$lower.scram-sha-512.sasl.jaas.config=$SCRAM required;"
    fi
    echo "listener.name.$lower.scram-sha-256.sasl.jaas.config=$SCRAM required;"
  done
}

client_properties() {
  cat <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$SCRAM required username="$ADMIN_USER" password="$ADMIN_PASSWORD";
PROPS
}

case "${1:-}" in
  broker-properties) shift; broker_properties "$@" ;;
  client-properties) client_properties ;;
  format-args) printf '%s\n' --add-scram "SCRAM-SHA-512=[name=$ADMIN_USER,password=$ADMIN_PASSWORD]" ;;
  *) die "usage: kafka-security.sh broker-properties INTER_BROKER_LISTENER [LISTENER...]|client-properties|format-args" ;;
esac
