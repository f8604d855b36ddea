"""Kafka clients: how they log in, the broker factory and the record publisher.

aiokafka defaults to `acks=1` without idempotence, which can lose an acknowledged record when a
leader fails and can duplicate or reorder on retry. Every producer here waits for all in-sync
replicas and is idempotent.

Every Kafka client of the code base (the services' FastStream broker, `eci-admin`, dead-letter
replay, the projects rebuild) logs in through `kafka_security` / `client_security_kwargs`, so
one set of `KAFKA_SECURITY_PROTOCOL` / `KAFKA_SASL_*` settings applies to all of them.
"""

import logging
import ssl
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from eci_common.envelope import KafkaRecord
from eci_common.settings import KafkaSettings


def kafka_security(settings: KafkaSettings) -> BaseSecurity | None:
    """The account to log in with, as FastStream's `security=`; None for PLAINTEXT."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    # The settings refuse SASL without both; checked again for the type checker.
    username, password = settings.kafka_sasl_username, settings.kafka_sasl_password
    if username is None or password is None:
        raise ValueError("SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
    use_ssl = settings.kafka_security_protocol == "SASL_SSL"
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile) if use_ssl else None
    scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
    return scram(username, password.get_secret_value(), ssl_context=context, use_ssl=use_ssl)


def client_security_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """The same login as keyword arguments of a raw aiokafka client (`AIOKafkaConsumer`,
    `AIOKafkaProducer`, `AIOKafkaAdminClient`): `security_protocol`, `sasl_mechanism`,
    `sasl_plain_username`, `sasl_plain_password`, `ssl_context`; empty for PLAINTEXT. Derived
    from `kafka_security` by FastStream itself, so raw clients and the broker log in alike."""
    return parse_security(kafka_security(settings))


def create_broker(
    settings: KafkaSettings, *, client_id: str, graceful_timeout: float
) -> KafkaBroker:
    """A FastStream broker whose producer is safe for at-least-once delivery."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=kafka_security(settings),
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
