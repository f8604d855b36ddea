"""A relay stalled past its lease, on the real broker and database: its records are in the
producer but their acknowledgements do not come for three leases; a second relay searching all
along must not publish its documents. Publications are counted per event id on the topic."""

import asyncio
import time
from collections import Counter

import pytest

from eci_common.envelope import KafkaRecord
from eci_common.kafka import BrokerPublisher
from eci_common.locks import DocumentLocks
from eci_common.mongo import MongoClient
from eci_common.outbox import OUTBOX, OutboxRelay
from eci_common.outbox_sending import Acknowledgement, RecordSender, sender_for
from eci_common.settings import OutboxSettings
from support.endpoints import Endpoints
from support.kafka_io import broker_for, create_topic, headers_of, read_all
from support.outbox_entries import company_entries
from support.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

LEASE_S = 3.0
DELIVERY_BOUND_S = 1.0  # what the relays are told the producer's worst case is
AGGREGATES = 20


class Stalled:
    """The real sender, whose acknowledgements are held back until `release` is set."""

    def __init__(self, sender: RecordSender) -> None:
        self._sender = sender
        self.release = asyncio.Event()
        self.queued = 0
        self._waiting: set[asyncio.Task[None]] = set()

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        real = await self._sender.send(record)
        self.queued += 1
        held: Acknowledgement = asyncio.get_running_loop().create_future()

        async def later() -> None:
            await self.release.wait()
            try:
                held.set_result(await real)
            except Exception as exc:  # noqa: BLE001 - passed on as the broker's answer
                held.set_exception(exc)

        task = asyncio.create_task(later())
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)
        return held


class Counting:
    def __init__(self, sender: RecordSender) -> None:
        self._sender = sender
        self.sent = 0

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        self.sent += 1
        return await self._sender.send(record)


async def test_a_relay_stalled_past_its_lease_keeps_its_documents(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap)
    collection = mongo[f"t_{run_id}_stall"]["aggregates"]
    documents = []
    for index in range(AGGREGATES):
        name = f"agg-{index:02d}"
        entries = company_entries(name, (1, 2), topic)
        documents.append({"_id": name, OUTBOX: entries})
    await collection.insert_many(documents)

    settings = OutboxSettings(outbox_lease_s=LEASE_S, outbox_poll_interval_s=0.2)
    locks = DocumentLocks()  # one per process: the two relays stand for two processes
    broker = broker_for(endpoints.kafka_bootstrap, "relay-stall-test")
    await broker.start()
    try:
        stalled = Stalled(sender_for(BrokerPublisher(broker)))
        first = OutboxRelay([collection], stalled, settings, locks, delivery_bound=DELIVERY_BOUND_S)
        second_sender = Counting(sender_for(BrokerPublisher(broker)))
        second = OutboxRelay(
            [collection], second_sender, settings, DocumentLocks(), delivery_bound=DELIVERY_BOUND_S
        )
        stalled_round = asyncio.create_task(first.drain())

        async def first_in_flight() -> bool:
            return stalled.queued == AGGREGATES

        await eventually(first_in_flight, timeout=30, what="the first relay's records in flight")
        # Three leases during which the second relay searches and would take over any lease it
        # saw unchanged for one.
        until = time.monotonic() + 3 * LEASE_S
        while time.monotonic() < until:
            assert await second.drain() == 0
            assert second_sender.sent == 0, "the second relay published the first one's documents"
            await asyncio.sleep(0.2)
        stalled.release.set()
        assert await stalled_round == 2 * AGGREGATES
        assert await second.drain() == 0
    finally:
        await broker.stop()

    records = await read_all(
        endpoints.kafka_bootstrap, topic, expect=2 * AGGREGATES + 1, timeout_ms=4000
    )
    publications = Counter(headers_of(record)["ce_id"] for record in records)
    assert len(publications) == 2 * AGGREGATES
    assert set(publications.values()) == {1}, "an event was published twice"


def test_a_lease_that_does_not_outlast_the_delivery_bound_is_refused() -> None:
    unused = Counting(Stalled(Counting(None)))  # type: ignore[arg-type]  # never sends
    with pytest.raises(ValueError, match="OUTBOX_LEASE_S=3 is too short"):
        OutboxRelay(
            [], unused, OutboxSettings(outbox_lease_s=3), DocumentLocks(), delivery_bound=2.5
        )
