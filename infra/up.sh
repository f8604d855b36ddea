#!/usr/bin/env bash
# Starts the local infrastructure (Kafka, FerretDB) and declares the topics. A no-op for what runs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$SECONDS
"$INFRA_DIR/kafka.sh" start
"$INFRA_DIR/ferretdb.sh" start
"$INFRA_DIR/kafka.sh" topics
log "infrastructure up in $((SECONDS - started))s: KAFKA_BOOTSTRAP_SERVERS=$("$INFRA_DIR/kafka.sh" bootstrap) MONGODB_URI=$("$INFRA_DIR/ferretdb.sh" uri)"
