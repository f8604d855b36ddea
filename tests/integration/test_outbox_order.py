"""Order per key on the real broker when a batch fails and a later one succeeds: the relay's
first round sees the records of the second event of some aggregates fail as aiokafka fails a
batch that expired in its queue without a leader (never written), while every other record of
the round is written; the next round succeeds. On the topic, every key's versions are strictly
increasing and none is missing, so no consumer's version guard drops an earlier event."""

import asyncio
from collections import defaultdict

import pytest
from aiokafka.errors import NotLeaderForPartitionError

from eci_common.envelope import KafkaRecord
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.kafka import BrokerPublisher
from eci_common.locks import DocumentLocks
from eci_common.mongo import MongoClient
from eci_common.outbox import OUTBOX, OutboxRelay
from eci_common.outbox_sending import Acknowledgement, RecordSender, sender_for
from eci_common.settings import OutboxSettings
from support.endpoints import Endpoints
from support.kafka_io import broker_for, create_topic, headers_of, read_all
from support.outbox_entries import company_entries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

AGGREGATES = 30
VERSIONS = 4


class FailingBatch:
    """The real sender, except that the second event of every third aggregate, the first time
    it comes, is not written and its acknowledgement fails as an expired batch's does."""

    def __init__(self, sender: RecordSender, doomed: set[str]) -> None:
        self._sender = sender
        self._doomed = set(doomed)
        self.failed: list[str] = []

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        event_id = record.headers["ce_id"]
        if event_id in self._doomed:
            self._doomed.discard(event_id)
            self.failed.append(event_id)
            ack: Acknowledgement = asyncio.get_running_loop().create_future()
            ack.set_exception(NotLeaderForPartitionError())
            return ack
        return await self._sender.send(record)


async def test_a_failed_batch_then_a_success_keeps_every_keys_versions_in_order(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap)
    collection = mongo[f"t_{run_id}_order"]["aggregates"]
    doomed: set[str] = set()
    documents = []
    for index in range(AGGREGATES):
        name = f"agg-{index:02d}"
        entries = company_entries(name, range(1, VERSIONS + 1), topic)
        if index % 3 == 0:
            doomed.add(entries[1]["id"])
        documents.append({"_id": name, OUTBOX: entries})
    await collection.insert_many(documents)

    broker = broker_for(endpoints.kafka_bootstrap, "relay-order-test")
    await broker.start()
    try:
        sender = FailingBatch(sender_for(BrokerPublisher(broker)), doomed)
        relay = OutboxRelay([collection], sender, OutboxSettings(), DocumentLocks())
        with pytest.raises(NotLeaderForPartitionError):
            await relay.drain()  # the first round: some batches fail, the rest succeed
        assert sorted(sender.failed) == sorted(doomed)
        await relay.drain()  # the next round: what failed, and what waited behind it
        assert await relay.backlog() == 0
    finally:
        await broker.stop()

    total = AGGREGATES * VERSIONS
    records = await read_all(endpoints.kafka_bootstrap, topic, expect=total + 1, timeout_ms=4000)
    versions: dict[str, list[int]] = defaultdict(list)
    ids: set[str] = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        ids.add(headers_of(record)["ce_id"])
        versions[record.key.decode()].append(
            CompanyRegisteredV1.model_validate_json(record.value or b"").version
        )
    assert len(ids) == total, "an event is missing from the topic"
    for key, seen in versions.items():
        assert seen == list(range(1, VERSIONS + 1)), f"{key}: versions {seen} on the topic"
