"""The outbox relay in batches, on the real broker and database: many aggregates with several
events each leave once and in order per key, with one relay and with two relays competing; a
failed acknowledgement keeps that event and the later ones of its document for the next round;
events appended during a round are not pulled with it."""

import asyncio
from collections import Counter, defaultdict
from typing import Any

import pytest

from eci_common import outbox_writes
from eci_common.envelope import KafkaRecord
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.kafka import BrokerPublisher
from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, MongoClient
from eci_common.outbox import LEASE_OWNER, OUTBOX, OutboxRelay
from eci_common.outbox_sending import Acknowledgement, RecordSender, sender_for
from eci_common.settings import OutboxSettings
from support.endpoints import Endpoints
from support.kafka_io import broker_for, create_topic, headers_of, read_all
from support.outbox_entries import company_entries
from support.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(params=["per-document", "bulk"])
def round_writes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with claims and releases one command per document, then with one
    `update_many` per round (the relay picks by the round's size; here every round is forced)."""
    monkeypatch.setattr(outbox_writes, "BULK_FROM", 1 if request.param == "bulk" else 10**9)
    return str(request.param)


AGGREGATES = 60
EVENTS_EACH = 3


def _entries(aggregate: str, first: int, count: int, topic: str) -> list[dict[str, Any]]:
    return company_entries(aggregate, range(first, first + count), topic)


async def _fill(collection: Collection, topic: str, aggregates: int = AGGREGATES) -> list[str]:
    names = [f"agg-{index:03d}" for index in range(aggregates)]
    await collection.insert_many(
        [{"_id": name, OUTBOX: _entries(name, 1, EVENTS_EACH, topic)} for name in names]
    )
    return names


async def _versions_per_key(endpoints: Endpoints, topic: str, expect: int) -> dict[str, list[int]]:
    """Every record of the topic (waiting a little past `expect` for duplicates), as the
    versions of each key in partition order; and every event id exactly once."""
    records = await read_all(endpoints.kafka_bootstrap, topic, expect=expect + 1, timeout_ms=4000)
    ids = Counter(headers_of(record)["ce_id"] for record in records)
    assert len(ids) == expect
    assert set(ids.values()) == {1}, "an event was published twice"
    per_key: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        payload = CompanyRegisteredV1.model_validate_json(record.value or b"")
        per_key[record.key.decode()].append(payload.version)
    return dict(per_key)


class Tracking:
    """A sender that remembers which keys it queued, to tell two relays' work apart."""

    def __init__(self, sender: RecordSender) -> None:
        self._sender = sender
        self.keys: set[str] = set()

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        self.keys.add(record.key)
        # Yield between records, so that two relays interleave as much as they can.
        await asyncio.sleep(0)
        return await self._sender.send(record)


async def test_one_relay_publishes_many_aggregates_in_batches_in_order_once(
    endpoints: Endpoints, mongo: MongoClient, run_id: str, round_writes: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap)
    collection = mongo[f"t_{run_id}_batch"]["aggregates"]
    names = await _fill(collection, topic)
    # Old documents before and between, as a service's collection has them.
    await collection.insert_many([{"_id": f"old-{i}", OUTBOX: []} for i in range(40)])
    broker = broker_for(endpoints.kafka_bootstrap, "relay-batch-test")
    await broker.start()
    try:
        relay = OutboxRelay(
            [collection],
            BrokerPublisher(broker),
            OutboxSettings(outbox_batch_size=7),  # several rounds, the last one partial
            DocumentLocks(),
        )
        total = AGGREGATES * EVENTS_EACH
        assert await relay.backlog() == total
        assert await relay.drain() == total
        assert await relay.drain() == 0
        assert await relay.backlog() == 0
    finally:
        await broker.stop()

    per_key = await _versions_per_key(endpoints, topic, total)
    assert per_key == {name: [1, 2, 3] for name in names}
    async for document in collection.find({}):
        assert document[OUTBOX] == []
        assert LEASE_OWNER not in document


async def test_two_relays_competing_never_publish_one_document_both(
    endpoints: Endpoints, mongo: MongoClient, run_id: str, round_writes: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap)
    collection = mongo[f"t_{run_id}_batch"]["aggregates"]
    names = await _fill(collection, topic)
    broker = broker_for(endpoints.kafka_bootstrap, "relay-compete-test")
    await broker.start()
    # One process's relays share its locks, as a service's writers and relay do. (Against
    # FerretDB, relays of different processes are not safe whatever the filter: it does not
    # isolate an update from another. On MongoDB the conditional claim is atomic per document.)
    locks = DocumentLocks()
    settings = OutboxSettings(outbox_batch_size=5, outbox_lease_s=120)
    first = Tracking(sender_for(BrokerPublisher(broker)))
    second = Tracking(sender_for(BrokerPublisher(broker)))
    try:
        sent = await asyncio.gather(
            OutboxRelay([collection], first, settings, locks).drain(),
            OutboxRelay([collection], second, settings, locks).drain(),
        )
    finally:
        await broker.stop()

    total = AGGREGATES * EVENTS_EACH
    assert sum(sent) == total
    assert first.keys, f"no competition: {sent}"
    assert second.keys, f"no competition: {sent}"
    assert not first.keys & second.keys, "a document was published by both relays"
    assert first.keys | second.keys == set(names)
    per_key = await _versions_per_key(endpoints, topic, total)
    assert per_key == {name: [1, 2, 3] for name in names}


class Failing:
    """Acknowledges every record but one, without a broker; remembers what it acknowledged."""

    def __init__(self, fail_event_id: str | None) -> None:
        self._fail = fail_event_id
        self.acknowledged: list[tuple[str, str]] = []

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        ack: Acknowledgement = asyncio.get_running_loop().create_future()
        event_id = record.headers["ce_id"]
        if event_id == self._fail:
            ack.set_exception(RuntimeError("not acknowledged"))
        else:
            self.acknowledged.append((record.key, event_id))
            ack.set_result(None)
        return ack


async def test_an_unacknowledged_event_stays_with_the_later_ones_of_its_document(
    mongo: MongoClient, run_id: str, round_writes: str
) -> None:
    collection = mongo[f"t_{run_id}_batch"]["aggregates"]
    await _fill(collection, "unused", aggregates=4)
    doomed = await collection.find_one({"_id": "agg-001"})
    assert doomed is not None
    _, second, third = doomed[OUTBOX]
    settings = OutboxSettings(outbox_batch_size=10)
    locks = DocumentLocks()

    failing = Failing(fail_event_id=second["id"])
    with pytest.raises(RuntimeError, match="not acknowledged"):
        await OutboxRelay([collection], failing, settings, locks).drain()
    # agg-001: the first event is pulled; the second failed, so the third, although
    # acknowledged, stays behind it. The other documents are emptied; no lease is left.
    kept = await collection.find_one({"_id": "agg-001"})
    assert kept is not None
    assert kept[OUTBOX] == [second, third]
    assert LEASE_OWNER not in kept
    assert await collection.count_documents({f"{OUTBOX}.0": {"$exists": True}}) == 1

    healthy = Failing(fail_event_id=None)
    assert await OutboxRelay([collection], healthy, settings, locks).drain() == 2
    assert healthy.acknowledged == [("agg-001", second["id"]), ("agg-001", third["id"])]
    assert await collection.count_documents({f"{OUTBOX}.0": {"$exists": True}}) == 0


async def test_events_appended_during_a_round_stay_for_the_next(
    mongo: MongoClient, run_id: str, round_writes: str
) -> None:
    collection = mongo[f"t_{run_id}_batch"]["aggregates"]
    await _fill(collection, "unused", aggregates=3)
    locks = DocumentLocks()
    late = _entries("agg-000", EVENTS_EACH + 1, 1, "unused")

    class Appending(Failing):
        """While the round is under way, the service appends an event (under its lock)."""

        appended = False

        async def send(self, record: KafkaRecord) -> Acknowledgement:
            if not self.appended:
                self.appended = True
                async with locks.hold(collection.name, "agg-000"):
                    await collection.update_one(
                        {"_id": "agg-000"}, {"$push": {OUTBOX: {"$each": late}}}
                    )
            return await super().send(record)

    sender = Appending(fail_event_id=None)
    relay = OutboxRelay([collection], sender, OutboxSettings(outbox_batch_size=10), locks)
    assert await relay.drain() == 3 * EVENTS_EACH + 1
    versions = [event_id for key, event_id in sender.acknowledged if key == "agg-000"]
    assert len(versions) == EVENTS_EACH + 1
    assert versions[-1] == late[0]["id"]  # in the next round, after the first three
    assert await collection.count_documents({f"{OUTBOX}.0": {"$exists": True}}) == 0


async def test_a_wake_naming_documents_publishes_them_and_the_poll_finds_the_rest(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap)
    collection = mongo[f"t_{run_id}_hinted"]["aggregates"]
    named, unnamed = await _fill(collection, topic, aggregates=2)
    broker = broker_for(endpoints.kafka_bootstrap, "relay-hint-test")
    await broker.start()
    try:
        # A poll an hour away: after its first round, only a wake can make the relay publish.
        relay = OutboxRelay(
            [collection],
            BrokerPublisher(broker),
            OutboxSettings(outbox_poll_interval_s=3600),
            DocumentLocks(),
        )
        # A round on named ids claims those documents only, and an id that is not there (or
        # has nothing pending) costs nothing.
        assert await relay.drain_ids([named, "absent"]) == EVENTS_EACH
        assert (await collection.find_one({"_id": named}))[OUTBOX] == []
        assert len((await collection.find_one({"_id": unnamed}))[OUTBOX]) == EVENTS_EACH

        # Running: its first round searches, so what was written before it started leaves;
        # then a write it is told about leaves at once.
        relay.start()

        async def pending(doc_id: str) -> int:
            document = await collection.find_one({"_id": doc_id})
            assert document is not None
            return len(document[OUTBOX])

        async def unnamed_published() -> bool:
            return await pending(unnamed) == 0

        await eventually(unnamed_published, timeout=30, what="the search to publish the rest")
        await collection.update_one(
            {"_id": named}, {"$push": {OUTBOX: {"$each": _entries(named, 4, 1, topic)}}}
        )
        relay.wake(named)

        async def named_published() -> bool:
            return await pending(named) == 0

        await eventually(named_published, timeout=30, what="the named document to be published")
        await relay.stop(grace_s=5)
    finally:
        await broker.stop()
    versions = await _versions_per_key(endpoints, topic, expect=2 * EVENTS_EACH + 1)
    assert versions == {named: [1, 2, 3, 4], unnamed: [1, 2, 3]}
