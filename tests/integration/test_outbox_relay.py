"""The outbox relay on the real broker and database: in order, once, and surviving an outage of
the relay itself (a second relay waits for the first one's lease)."""

import pytest

from eci_common.events.registry import CompanyRegisteredV1
from eci_common.kafka import BrokerPublisher
from eci_common.locks import DocumentLocks
from eci_common.mongo import MongoClient
from eci_common.outbox import OUTBOX, OutboxRelay
from eci_common.settings import OutboxSettings
from support.endpoints import Endpoints
from support.kafka_io import broker_for, create_topic, headers_of, read_all
from support.outbox_entries import company_entries

pytestmark = pytest.mark.integration


def _events(company_id: str, count: int, topic: str) -> list[dict[str, object]]:
    return company_entries(company_id, range(1, count + 1), topic)


async def test_relay_publishes_each_aggregates_events_in_order_then_empties_its_outbox(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap)
    collection = mongo[f"t_{run_id}_relay"]["aggregates"]
    for aggregate in ("a", "b", "c"):
        await collection.insert_one({"_id": aggregate, OUTBOX: _events(aggregate, 4, topic)})

    broker = broker_for(endpoints.kafka_bootstrap, "relay-test")
    await broker.start()
    try:
        relay = OutboxRelay(
            [collection], BrokerPublisher(broker), OutboxSettings(), DocumentLocks()
        )
        assert await relay.backlog() == 12
        assert await relay.drain() == 12
        assert await relay.drain() == 0  # nothing left: published once
        assert await relay.backlog() == 0
    finally:
        await broker.stop()

    records = await read_all(endpoints.kafka_bootstrap, topic, expect=12)
    assert len(records) == 12
    by_key: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        key = record.key.decode()
        assert headers_of(record)["ce_subject"] == key
        payload = CompanyRegisteredV1.model_validate_json(record.value or b"")
        by_key.setdefault(key, []).append(payload.version)
    assert by_key == {"a": [1, 2, 3, 4], "b": [1, 2, 3, 4], "c": [1, 2, 3, 4]}
    assert {headers_of(r)["ce_type"] for r in records} == {CompanyRegisteredV1.event_type}
    assert [doc[OUTBOX] for doc in await collection.find({}).to_list()] == [[], [], []]


async def test_a_claimed_document_is_not_published_by_a_second_relay(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap)
    collection = mongo[f"t_{run_id}_relay"]["aggregates"]
    await collection.insert_one({"_id": "a", OUTBOX: _events("a", 2, topic)})

    class Unused:
        async def publish(self, record: object) -> None:
            raise AssertionError("must not publish a document leased by another relay")

    first = OutboxRelay([collection], Unused(), OutboxSettings(outbox_lease_s=120), DocumentLocks())
    assert await first._claim(collection) is not None
    second = OutboxRelay([collection], Unused(), OutboxSettings(), DocumentLocks())
    assert await second.drain() == 0
    assert await second.backlog() == 2
