#!/usr/bin/env bash
# Stops the local infrastructure; `--purge` also deletes its data.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$INFRA_DIR/kafka.sh" stop
"$INFRA_DIR/ferretdb.sh" stop
"$INFRA_DIR/postgres.sh" stop
if [[ "${1:-}" == "--purge" ]]; then
  rm -rf "$ECI_STATE_DIR/kafka-$KAFKA_PORT" "$ECI_STATE_DIR/kafka-$KAFKA_PORT-sasl" \
    "$ECI_STATE_DIR/ferretdb-$FERRETDB_PORT" "$("$INFRA_DIR/postgres.sh" dir)"
  log "data deleted"
fi
