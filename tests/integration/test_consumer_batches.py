"""Batches on the real broker and database: every event's handler runs once, even for events
delivered twice inside one batch or across two; the idempotency records are written in bulk,
tolerating ones already there; and the group's committed offsets reach the end of the topic."""

import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from eci_common.consumer import EventConsumer, ReceivedRecord
from eci_common.envelope import Event, KafkaRecord, read_metadata
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.idempotency import ProcessedEvents
from eci_common.kafka import BrokerPublisher
from eci_common.mongo import MongoClient
from eci_common.settings import ConsumerSettings
from support.endpoints import Endpoints
from support.kafka_io import broker_for, company_records, create_topic, produce_many
from support.polling import eventually

pytestmark = pytest.mark.integration

EVENTS = 300
BATCH = 50


async def test_records_already_there_are_no_error_in_a_bulk_write(
    mongo: MongoClient, run_id: str
) -> None:
    collection = mongo[f"t_{run_id}_idempotency"]["processed_events"]
    processed = ProcessedEvents(collection)
    metas = [read_metadata(r.headers) for r in company_records(run_id, 5)]

    await processed.record("g", metas[:2])
    await processed.record("g", metas)  # two of them already recorded by an earlier delivery

    assert await collection.count_documents({}) == 5
    assert all([await processed.seen("g", meta) for meta in metas])
    assert not await processed.seen("another-group", metas[0])


async def test_a_stream_with_duplicates_is_handled_once_per_event_in_batches(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap, partitions=2)
    originals = [_on(topic, record) for record in company_records(run_id, EVENTS)]
    # Republications, as a relay crashing before its release makes them: some right after the
    # original (the same batch), some far after it (a later batch).
    stream = [*originals[:100], *originals[90:100], *originals[100:], *originals[:20]]
    await produce_many(endpoints.kafka_bootstrap, stream)

    database = mongo[f"t_{run_id}_batches"]
    effects = database["effects"]
    group = f"t-{run_id}"
    broker = broker_for(endpoints.kafka_bootstrap, "batch-test")
    consumer = EventConsumer(
        group=group,
        processed=ProcessedEvents(database["processed_events"]),
        dead_letters=BrokerPublisher(broker),
        dead_letter_topic=topic,
        settings=ConsumerSettings(consumer_group=group, consumer_batch_max_records=BATCH),
    )

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        # A new document each time, so that a second handling would show.
        await effects.insert_one({"_id": uuid.uuid4().hex, "company": event.data.company_id})

    sizes: list[int] = []
    process_batch = consumer.process_batch

    async def measured(records: Sequence[ReceivedRecord]) -> None:
        sizes.append(len(records))
        await process_batch(records)

    consumer.process_batch = measured  # type: ignore[method-assign]
    consumer.subscribe(broker, topic)

    await broker.start()
    try:
        ends = await _ends(endpoints.kafka_bootstrap, topic)

        async def all_committed() -> bool:
            return await _committed(endpoints.kafka_bootstrap, group, topic) == ends

        # Committed means handled and remembered: the commit follows the batch's last write.
        await eventually(all_committed, timeout=120, what=f"{len(stream)} records committed")
    finally:
        await broker.stop()

    handled = Counter([doc["company"] async for doc in effects.find({}, {"company": 1})])
    assert len(handled) == EVENTS
    assert set(handled.values()) == {1}
    assert await database["processed_events"].count_documents({}) == EVENTS
    assert max(sizes) > 1, sizes  # read in batches, not one by one
    assert max(sizes) <= BATCH
    assert sum(sizes) == len(stream)


def _on(topic: str, record: KafkaRecord) -> KafkaRecord:
    return KafkaRecord(topic=topic, key=record.key, headers=record.headers, body=record.body)


async def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await client.start()
    try:
        partitions = sorted(client.partitions_for_topic(topic) or {0, 1})
        return {p: await client.committed(TopicPartition(topic, p)) or 0 for p in partitions}
    finally:
        await client.stop()


async def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await client.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(client.partitions_for_topic(topic) or {0, 1})
        ]
        ends = await client.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await client.stop()
