"""Kafka producer side: the broker factory and the record publisher.

aiokafka defaults to `acks=1` without idempotence, which can lose an acknowledged record when a
leader fails and can duplicate or reorder on retry. Every producer here waits for all in-sync
replicas and is idempotent.
"""

import logging
from typing import Protocol

from faststream.kafka import KafkaBroker

from eci_common.envelope import KafkaRecord
from eci_common.settings import KafkaSettings


def create_broker(
    settings: KafkaSettings, *, client_id: str, graceful_timeout: float
) -> KafkaBroker:
    """A FastStream broker whose producer is safe for at-least-once delivery."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        graceful_timeout=graceful_timeout,
        # FastStream's per-record lines go through our structured logging, at DEBUG: the
        # consumer logs each outcome itself, with the event's correlation id.
        logger=logging.getLogger("faststream.eci"),
        log_level=logging.DEBUG,
    )


class RecordPublisher(Protocol):
    """Sends one record and returns only once the broker has acknowledged it."""

    async def publish(self, record: KafkaRecord) -> None: ...


class BrokerPublisher:
    """`RecordPublisher` over a FastStream broker."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, record: KafkaRecord) -> None:
        await self._broker.publish(
            record.body,
            record.topic,
            key=record.key.encode(),
            headers=record.headers,
            # FastStream adds its own correlation header; make it the CloudEvents one.
            correlation_id=record.headers.get("ce_correlationid"),
        )
