"""Reading and writing raw records on the real broker, as an outside client would."""

import asyncio
import random
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from eci_common.envelope import KafkaRecord, new_event, to_record
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.kafka import create_broker
from eci_common.settings import KafkaSettings


def broker_for(bootstrap: str, client_id: str) -> KafkaBroker:
    """A FastStream broker as the services create theirs, for a test's relay or consumer."""
    return create_broker(
        KafkaSettings(kafka_bootstrap_servers=bootstrap), client_id=client_id, graceful_timeout=5
    )


async def create_topic(bootstrap: str, partitions: int = 3) -> str:
    """A fresh topic for one test."""
    name = f"test.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def produce(bootstrap: str, records: list[KafkaRecord]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                record.topic,
                record.body,
                key=record.key.encode(),
                headers=[(name, value.encode()) for name, value in record.headers.items()],
            )
    finally:
        await producer.stop()


async def produce_many(bootstrap: str, records: list[KafkaRecord], chunk: int = 500) -> None:
    """Like `produce`, pipelined: sends a chunk, then waits for all its acknowledgements."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for start in range(0, len(records), chunk):
            futures = [
                await producer.send(
                    r.topic,
                    r.body,
                    key=r.key.encode(),
                    headers=[(name, value.encode()) for name, value in r.headers.items()],
                )
                for r in records[start : start + chunk]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def company_records(prefix: str, count: int) -> list[KafkaRecord]:
    """`count` CompanyRegistered records with company ids `<prefix>-<n>`."""
    return [
        to_record(
            new_event(
                CompanyRegisteredV1(
                    company_id=f"{prefix}-{index}",
                    version=1,
                    legal_name=f"Entreprise {index}",
                    country="FR",
                    registered_at=datetime.now(UTC),
                ),
                source="/eci/registry",
            )
        )
        for index in range(count)
    ]


async def read_all(
    bootstrap: str, topic: str, *, expect: int, timeout_ms: int = 20_000
) -> list[ConsumerRecord[bytes, bytes]]:
    """Reads a topic from the beginning until `expect` records came or the time is up."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        waited = 0
        while len(records) < expect and waited < timeout_ms:
            batch = await consumer.getmany(timeout_ms=500)
            waited += 500
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


def with_redeliveries(
    records: list[KafkaRecord], copies: int, rng: random.Random
) -> list[KafkaRecord]:
    """`records` with `copies` of them sent again, each copy somewhere after its original (same
    key, so same partition): the redeliveries a relay makes when an acknowledgement is lost,
    which only the consumers' idempotency record keeps from being handled twice."""
    keyed = [(float(index), record) for index, record in enumerate(records)]
    keyed.extend(
        (rng.uniform(index + 0.5, len(records)), records[index])
        for index in rng.sample(range(len(records)), copies)
    )
    return [record for _, record in sorted(keyed, key=lambda pair: pair[0])]
