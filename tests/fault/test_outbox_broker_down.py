"""A broker that is down is not a refusal: the relay keeps its events, quarantines none of them
(neither on a topic whose metadata it holds nor on one it never asked about: aiokafka's
`UnknownTopicOrPartitionError` after its metadata wait then comes from no answer, not from a
missing topic), and publishes each once when the broker is back."""

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

import pytest
from aiokafka.errors import KafkaError

from eci_common.kafka import BrokerPublisher, create_broker
from eci_common.locks import DocumentLocks
from eci_common.mongo import MongoClient
from eci_common.outbox import OUTBOX, OutboxRelay
from eci_common.outbox_quarantine import QUARANTINE
from eci_common.settings import KafkaSettings, OutboxSettings
from support.kafka_io import create_topic, headers_of, read_all
from support.outbox_entries import company_entries
from support.private_kafka import PrivateKafka

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

REQUEST_TIMEOUT_MS = 2000


def _entries(aggregate: str, topic: str, count: int) -> list[dict[str, Any]]:
    return company_entries(aggregate, range(1, count + 1), topic)


async def test_a_broker_down_quarantines_nothing_and_everything_leaves_once_it_is_back(
    private_kafka: PrivateKafka, mongo: MongoClient, run_id: str
) -> None:
    known = await create_topic(private_kafka.bootstrap)
    collection = mongo[f"t_{run_id}_down"]["aggregates"]
    await collection.insert_one({"_id": "warm", OUTBOX: _entries("warm", known, 1)})
    settings = KafkaSettings(
        kafka_bootstrap_servers=private_kafka.bootstrap, kafka_request_timeout_ms=REQUEST_TIMEOUT_MS
    )
    broker = create_broker(settings, client_id="relay-down-test", graceful_timeout=5)
    await broker.start()
    relay = OutboxRelay(
        [collection], BrokerPublisher(broker), OutboxSettings(), DocumentLocks(), delivery_bound=4
    )
    try:
        assert await relay.drain() == 1  # the producer now holds the metadata of `known`
        # Created after the producer's start: its metadata does not list this one.
        never_asked = await create_topic(private_kafka.bootstrap)
        private_kafka.stop()
        await collection.insert_many(
            [
                {"_id": "a", OUTBOX: _entries("a", known, 2)},
                {"_id": "b", OUTBOX: _entries("b", never_asked, 2)},
            ]
        )
        round_during_outage = asyncio.create_task(relay.drain())
        # Several metadata waits and queue expiries long: nothing is set aside.
        until = time.monotonic() + 4 * REQUEST_TIMEOUT_MS / 1000
        while time.monotonic() < until:
            assert relay.quarantined == 0
            assert await collection.count_documents({f"{QUARANTINE}.0": {"$exists": True}}) == 0
            await asyncio.sleep(0.5)
        private_kafka.start()
        with contextlib.suppress(KafkaError):  # a passing failure of the round, retried below
            await asyncio.wait_for(round_during_outage, 120)
        deadline = time.monotonic() + 120
        while await relay.backlog() and time.monotonic() < deadline:
            with contextlib.suppress(KafkaError):
                await relay.drain()
        assert await relay.backlog() == 0
        assert relay.quarantined == 0
    finally:
        await broker.stop()

    publications: Counter[str] = Counter()
    for topic, expect in ((known, 3), (never_asked, 2)):
        records = await read_all(private_kafka.bootstrap, topic, expect=expect + 1, timeout_ms=3000)
        publications.update(headers_of(record)["ce_id"] for record in records)
    assert len(publications) == 5
    assert set(publications.values()) == {1}, "an event was published twice"
