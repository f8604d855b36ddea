"""Dead letters: read them, and replay them onto their original topic once the cause is fixed.

A replayed record keeps its CloudEvents id, so every consumer group that had already handled the
event skips it (idempotency record) and the one that dead-lettered it applies it once.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from eci_common.kafka import client_security_kwargs
from eci_common.settings import KafkaSettings

DLQ_PREFIX = "dlq_"


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered record, with why and where it failed."""

    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    body: bytes

    @property
    def event_id(self) -> str | None:
        return self.headers.get("ce_id")

    @property
    def event_type(self) -> str | None:
        return self.headers.get("ce_type")

    @property
    def reason(self) -> str:
        return self.headers.get("dlq_reason", "")

    @property
    def original_topic(self) -> str:
        return self.headers["dlq_original_topic"]

    def original_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if not k.startswith(DLQ_PREFIX)}


def _settings(kafka: KafkaSettings | str) -> KafkaSettings:
    """A bootstrap address alone takes the rest (the account included) from the environment."""
    if isinstance(kafka, KafkaSettings):
        return kafka
    return KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka)


async def read_dead_letters(kafka: KafkaSettings | str, topic: str) -> list[DeadLetter]:
    """Every record of a dead-letter topic, from the beginning to its current end."""
    settings = _settings(kafka)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        **client_security_kwargs(settings),
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await _partitions(consumer, topic))]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                letters.extend(
                    DeadLetter(
                        partition=record.partition,
                        offset=record.offset,
                        key=record.key.decode(errors="replace") if record.key else None,
                        headers={k: v.decode(errors="replace") for k, v in record.headers},
                        body=record.value or b"",
                    )
                    for record in records
                    if record.offset < ends[tp]
                )
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return letters


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()  # no public call refreshes it
        found = consumer.partitions_for_topic(topic)
    return set(found or ())


def select(
    letters: Iterable[DeadLetter], *, event_type: str | None = None, event_id: str | None = None
) -> list[DeadLetter]:
    """The letters to replay: all, or those of one type, or the one with an event id."""
    chosen = list(letters)
    if event_type is not None:
        chosen = [letter for letter in chosen if letter.event_type == event_type]
    if event_id is not None:
        chosen = [letter for letter in chosen if letter.event_id == event_id]
    return chosen


async def replay(
    kafka: KafkaSettings | str,
    letters: list[DeadLetter],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Publishes each letter back onto its original topic (acks=all, idempotent producer)."""
    settings = _settings(kafka)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **client_security_kwargs(settings),
    )
    await producer.start()
    try:
        for index, letter in enumerate(letters, start=1):
            headers = {
                **letter.original_headers(),
                "eci_replayed_at": datetime.now(UTC).isoformat(),
                "eci_replayed_from": f"{letter.partition}:{letter.offset}",
            }
            await producer.send_and_wait(
                letter.original_topic,
                letter.body,
                key=letter.key.encode() if letter.key is not None else None,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
            if progress is not None:
                progress(index)
    finally:
        await producer.stop()
    return len(letters)
