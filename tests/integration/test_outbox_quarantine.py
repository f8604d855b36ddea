"""Quarantine of outbox entries refused for good, on the real broker and database: one record
for a topic that does not exist among 100 events on two collections leaves the other 99 flowing;
it is kept in its document, counted in the metric and listed by `eci-admin outbox`, then, once
the topic exists, resent by `eci-admin outbox resend` and published once. The events of an
aggregate behind a quarantined one are held back until it is resent, then follow it in order."""

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from eci_common.admin import app as admin_app
from eci_common.envelope import KafkaRecord
from eci_common.kafka import BrokerPublisher, create_broker
from eci_common.locks import DocumentLocks
from eci_common.metrics import Metrics
from eci_common.mongo import Collection, MongoClient
from eci_common.outbox import OUTBOX, OutboxRelay
from eci_common.outbox_quarantine import QUARANTINE, request_resend
from eci_common.outbox_sending import Acknowledgement, RecordRefused
from eci_common.settings import KafkaSettings, OutboxSettings
from support.endpoints import Endpoints
from support.kafka_io import create_topic, headers_of, read_all
from support.outbox_entries import company_entries
from support.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _entries(aggregate: str, versions: range, topic: str) -> list[dict[str, Any]]:
    return company_entries(aggregate, versions, topic)


async def _fill(collection: Collection, prefix: str, topic: str) -> list[str]:
    """25 aggregates of 2 events each: 50 events."""
    names = [f"{prefix}-{index:02d}" for index in range(25)]
    await collection.insert_many(
        [{"_id": name, OUTBOX: _entries(name, range(1, 3), topic)} for name in names]
    )
    return names


def _admin(database: str, endpoints: Endpoints, *args: str) -> str:
    env = {"MONGODB_URI": endpoints.mongodb_uri}
    for service in ("REGISTRY", "PROJECTS", "NOTIFICATIONS"):
        env[f"{service}_MONGODB_DATABASE"] = database
    result = CliRunner().invoke(admin_app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def test_a_refused_record_is_quarantined_the_rest_flows_and_the_resend_publishes_it_once(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    companies_topic = await create_topic(endpoints.kafka_bootstrap)
    clusters_topic = await create_topic(endpoints.kafka_bootstrap)
    missing_topic = f"test.missing.{uuid.uuid4().hex[:12]}"
    database_name = f"t_{run_id}_quarantine"
    companies, clusters = mongo[database_name]["companies"], mongo[database_name]["clusters"]
    await _fill(companies, "company", companies_topic)
    await _fill(clusters, "cluster", clusters_topic)
    # The last event of one aggregate goes to a topic nobody created.
    doomed = await companies.find_one({"_id": "company-07"})
    assert doomed is not None
    refused_id = doomed[OUTBOX][1]["id"]
    await companies.update_one(
        {"_id": "company-07"}, {"$set": {f"{OUTBOX}.1.topic": missing_topic}}
    )

    # A short request timeout: the metadata wait for the missing topic lasts that long.
    kafka = KafkaSettings(kafka_bootstrap_servers=endpoints.kafka_bootstrap)
    broker = create_broker(
        kafka.model_copy(update={"kafka_request_timeout_ms": 2000}),
        client_id="quarantine-test",
        graceful_timeout=5,
    )
    metrics = Metrics("registry")
    await broker.start()
    try:
        relay = OutboxRelay(
            [companies, clusters],
            BrokerPublisher(broker),
            OutboxSettings(outbox_poll_interval_s=0.2),
            DocumentLocks(),
            metrics,
            delivery_bound=4.0,
        )
        assert await relay.drain() == 99
        assert relay.quarantined == 1
        quarantined = metrics.registry.get_sample_value(
            "eci_outbox_quarantined_total", {"service": "registry", "topic": missing_topic}
        )
        assert quarantined == 1
        kept = await companies.find_one({"_id": "company-07"})
        assert kept is not None
        assert kept[OUTBOX] == []
        assert [item["entry"]["id"] for item in kept[QUARANTINE]] == [refused_id]
        assert "does not exist" in kept[QUARANTINE][0]["reason"]

        listing = await asyncio.to_thread(_admin, database_name, endpoints, "outbox")
        assert "companies" in listing
        assert "0 waiting, 1 quarantined" in listing
        assert f"quarantined {refused_id} " in listing
        assert f"topic={missing_topic}" in listing

        # The fix: the topic is created. Then the operator's resend, carried out by the relay.
        admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(missing_topic, 1, 1)])
        finally:
            await admin.close()
        relay.start()
        resent = await asyncio.to_thread(
            _admin, database_name, endpoints, "outbox", "resend", "registry", refused_id
        )
        assert "taken by the registry relay" in resent

        async def emptied() -> bool:
            document = await companies.find_one({"_id": "company-07"})
            return document is not None and not document[OUTBOX] and not document[QUARANTINE]

        await eventually(emptied, timeout=30, what="the resent event to be published")
        await relay.stop(grace_s=5)
    finally:
        await broker.stop()

    # A consumer that applies every record it reads: one application per event id, all 100.
    applications: Counter[str] = Counter()
    for topic, expect in ((companies_topic, 49), (clusters_topic, 50), (missing_topic, 1)):
        records = await read_all(
            endpoints.kafka_bootstrap, topic, expect=expect + 1, timeout_ms=3000
        )
        applications.update(headers_of(record)["ce_id"] for record in records)
    assert len(applications) == 100
    assert set(applications.values()) == {1}, "an event was applied twice"
    assert applications[refused_id] == 1


class Refusing:
    """Acknowledges every record but those of one event id, which it refuses for good until
    told the fix is in; remembers what it acknowledged, in order."""

    def __init__(self, refused_id: str) -> None:
        self.refused_id = refused_id
        self.fixed = False
        self.acknowledged: list[str] = []

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        event_id = record.headers["ce_id"]
        if event_id == self.refused_id and not self.fixed:
            raise RecordRefused("the record is too large")
        self.acknowledged.append(event_id)
        ack: Acknowledgement = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


async def test_the_events_behind_a_quarantined_one_wait_for_it_then_follow_it(
    mongo: MongoClient, run_id: str
) -> None:
    collection = mongo[f"t_{run_id}_held"]["companies"]
    entries = _entries("held", range(1, 5), "unused")
    await collection.insert_many(
        [
            {"_id": "held", OUTBOX: entries},
            {"_id": "free", OUTBOX: _entries("free", range(1, 3), "unused")},
        ]
    )
    first, refused, *behind = [entry["id"] for entry in entries]
    sender = Refusing(refused)
    relay = OutboxRelay([collection], sender, OutboxSettings(), DocumentLocks())

    assert await relay.drain() == 3  # held v1 and both of free
    assert await relay.drain() == 0  # the rest of held waits behind the refused one
    held = await collection.find_one({"_id": "held"})
    assert held is not None
    assert [entry["id"] for entry in held[OUTBOX]] == behind
    assert [item["entry"]["id"] for item in held[QUARANTINE]] == [refused]
    assert refused not in sender.acknowledged
    assert not set(behind) & set(sender.acknowledged)

    sender.fixed = True
    await request_resend(collection.database, None)
    assert await relay.drain() == 3
    mine = [event_id for event_id in sender.acknowledged if event_id in {first, refused, *behind}]
    assert mine == [first, refused, *behind]
    assert await collection.count_documents({f"{QUARANTINE}.0": {"$exists": True}}) == 0
