"""Journey 4: a company asks to be forgotten. After the erasure no service's database holds its
personal data, checked by reading every collection of the three databases; and after the
compaction delay, no topic does either, checked by reading every topic from the beginning.

The journey runs on the journeys' broker, its contacts topic set to compact within seconds (the
production settings of infra/topics.conf bound the same sequence at 2 hours, see
tests/unit/test_contacts_compaction_bound.py): segments roll after SEGMENT_MS at the next append,
which the registry's markers bring every ROLL_INTERVAL_S; a rolled segment older than
MAX_LAG_MS is cleaned at the cleaner's next pass, CLEANER_BACKOFF_MS at most later."""

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from eci_common import topics
from eci_common.mongo import MongoClient
from support.auth import staff
from support.endpoints import Endpoints, declared_topics
from support.polling import eventually

from .conftest import JOURNEYS_BROKER, System, start_system, stop_system

# The journeys' broker to start (tens of seconds on a loaded machine), then the journey.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
log = logging.getLogger(__name__)

# The journey's own compaction settings, and the delay they give (the formula of the docs).
SEGMENT_MS = 2000
MAX_LAG_MS = 2000
CLEANER_BACKOFF_MS = 15000  # the broker's log.cleaner.backoff.ms (infra/kafka.sh)
ROLL_INTERVAL_S = 1.0
ERASURE_DELAY_S = (
    max(min(SEGMENT_MS, MAX_LAG_MS) + ROLL_INTERVAL_S * 1000, MAX_LAG_MS) + CLEANER_BACKOFF_MS
) / 1000
# What a cleaner pass itself takes on a loaded 2-core machine, on top of the delay.
CLEANING_SLACK_S = 20.0
SHORT_CONTACTS = {
    "segment.ms": str(SEGMENT_MS),
    "max.compaction.lag.ms": str(MAX_LAG_MS),
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "1000",
}

PERSONAL = {
    "legal_name": "Émaux Oubliés de Pontarlier",
    "contact_name": "Hélène Oubliée",
    "email": "helene@emaux-oublies.example",
    "phone": "+33 3 53 01 99 42",
    "siren": "552100554",
}


@pytest_asyncio.fixture
async def compacting_broker(journey_endpoints: Endpoints) -> Endpoints:
    """The journeys' broker, its contacts topic set to the short settings (the whole config:
    AlterConfigs replaces a topic's dynamic configs). Its cleaner keeps Kafka's default backoff,
    the one the broker scripts write down."""
    if journey_endpoints.origin != JOURNEYS_BROKER:
        pytest.skip("changes topic configs: only on the journeys' own broker")
    declared = {name: config for name, _, config in declared_topics()}
    configs = {**declared[topics.REGISTRY_CONTACTS], **SHORT_CONTACTS}
    admin = AIOKafkaAdminClient(bootstrap_servers=journey_endpoints.kafka_bootstrap)
    await admin.start()
    try:
        responses = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topics.REGISTRY_CONTACTS, configs=configs)]
        )
        errors = [r for response in responses for r in response.resources if r[0] != 0]
        assert not errors, errors
    finally:
        await admin.close()
    return journey_endpoints


@pytest_asyncio.fixture
async def system(
    compacting_broker: Endpoints, run_id: str, log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[System]:
    # Read by every service's KafkaSettings (no service prefix); only the registry uses it.
    monkeypatch.setenv("KAFKA_SEGMENT_ROLL_INTERVAL_S", str(ROLL_INTERVAL_S))
    started = await start_system(compacting_broker, run_id, log_dir)
    try:
        yield started
    finally:
        stop_system(started)


async def _topics_text(bootstrap: str) -> dict[str, bytes]:
    """Every record of every topic (but Kafka's own), keys, headers and values, per topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        texts = {name: bytearray() for name in names}
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    texts[tp.topic] += (record.key or b"") + (record.value or b"")
                    for name, value in record.headers:
                        texts[tp.topic] += name.encode() + (value or b"")
        return {name: bytes(text) for name, text in texts.items()}
    finally:
        await consumer.stop()


def _contact_data() -> list[bytes]:
    values = (PERSONAL["contact_name"], PERSONAL["email"], PERSONAL["phone"])
    # As UTF-8 and as JSON with its non-ASCII escaped: either way a producer might write it.
    return [v.encode() for v in values] + [json.dumps(v)[1:-1].encode() for v in values]


async def _topics_holding_contacts(bootstrap: str) -> list[str]:
    return [
        name
        for name, text in (await _topics_text(bootstrap)).items()
        if any(value in text for value in _contact_data())
    ]


async def _dump(mongo: MongoClient, database: str) -> str:
    """Every document of every collection of a database, as one text."""
    db = mongo[database]
    texts = []
    for name in await db.list_collection_names():
        documents = await db[name].find({}).to_list()
        texts.append(json.dumps(documents, default=str, ensure_ascii=False))
    return "\n".join(texts)


async def test_erasure_purges_personal_data_from_every_service_and_topic(
    system: System, mongo: MongoClient, compacting_broker: Endpoints
) -> None:
    async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
        cluster = await client.post(
            f"{system.registry.url}/clusters",
            json={"code": "cadrans", "name": "Grappe Cadrans", "theme": "dials"},
        )
        registered = await client.post(
            f"{system.registry.url}/companies",
            json={
                "legal_name": PERSONAL["legal_name"],
                "siren": PERSONAL["siren"],
                "city": "Pontarlier",
                "roles": ["dial_maker"],
                "capabilities": ["dials.enamel"],
                "contacts": [
                    {
                        "name": PERSONAL["contact_name"],
                        "email": PERSONAL["email"],
                        "phone": PERSONAL["phone"],
                        "consent": True,
                    }
                ],
            },
        )
        company_id = registered.json()["id"]
        joined = await client.put(
            f"{system.registry.url}/clusters/{cluster.json()['id']}/members/{company_id}", json={}
        )
        assert joined.status_code == 200

        async def known_everywhere() -> bool:
            projects = await client.get(f"{system.projects.url}/companies/{company_id}")
            inbox = await client.get(f"{system.notifications.url}/notifications")
            noticed = any(n["company_id"] == company_id for n in inbox.json())
            return projects.status_code == 200 and bool(projects.json()["clusters"]) and noticed

        # A fresh consumer group reads the shared topics' history first: give it time.
        await eventually(
            known_everywhere, timeout=90, what="the company to be known by every service"
        )

        # It applies to a project with a message that names its contact.
        lead = await client.post(
            f"{system.registry.url}/companies",
            json={"legal_name": "Pilote", "country": "CH", "roles": ["watch_brand"]},
        )
        lead_id = lead.json()["id"]
        await client.put(
            f"{system.registry.url}/clusters/{cluster.json()['id']}/members/{lead_id}", json={}
        )

        async def lead_known() -> bool:
            found = await client.get(f"{system.projects.url}/companies/{lead_id}")
            return found.status_code == 200 and bool(found.json()["clusters"])

        await eventually(lead_known, what="the lead in projects' read model")
        project = await client.post(
            f"{system.projects.url}/projects",
            json={
                "cluster_id": cluster.json()["id"],
                "lead_company_id": lead_id,
                "title": "Émail grand feu",
                "kind": "new_process",
            },
        )
        project_url = f"{system.projects.url}/projects/{project.json()['id']}"
        await client.post(
            f"{project_url}/call",
            json={"needed_capabilities": ["dials.enamel"], "deadline": "2099-01-01"},
            headers={"If-Match": '"1"'},
        )
        applied = await client.post(
            f"{project_url}/applications",
            json={"company_id": company_id, "message": f"Contact : {PERSONAL['contact_name']}"},
        )
        assert applied.status_code == 201, applied.text
        before = await _dump(mongo, system.notifications.database)
        assert PERSONAL["legal_name"] in before  # the check below can fail
        assert PERSONAL["contact_name"] in await _dump(mongo, system.projects.database)
        # The contacts are on their internal topic, and only there: the topic check can fail.
        bootstrap = compacting_broker.kafka_bootstrap
        assert await _topics_holding_contacts(bootstrap) == [topics.REGISTRY_CONTACTS]

        erased = await client.post(f"{system.registry.url}/companies/{company_id}/erase")
        assert erased.status_code == 200
        erased_at = time.monotonic()

        async def purged_everywhere() -> bool:
            projects = (await client.get(f"{system.projects.url}/companies/{company_id}")).json()
            inbox = await client.get(f"{system.notifications.url}/notifications")
            return (
                projects["status"] == "erased"
                and not projects["clusters"]
                and not any(n["company_id"] == company_id for n in inbox.json())
            )

        await eventually(purged_everywhere, what="every service to honour the erasure")

    async def nothing_left() -> bool:
        # The registry's outbox empties once the erasure's events are relayed.
        for service in system.all:
            text = await _dump(mongo, service.database)
            if any(value in text for value in PERSONAL.values()):
                return False
        return True

    await eventually(nothing_left, what="no personal data in any database")
    assert (await client_get_status(system, company_id)) == 410

    async def no_topic_holds_contacts() -> bool:
        return not await _topics_holding_contacts(bootstrap)

    await eventually(
        no_topic_holds_contacts,
        timeout=ERASURE_DELAY_S + CLEANING_SLACK_S,
        interval=0.5,
        what=f"compaction to remove the contacts from every topic (delay {ERASURE_DELAY_S}s)",
    )
    log.info("contacts gone from every topic %.1fs after the erasure", time.monotonic() - erased_at)


async def client_get_status(system: System, company_id: str) -> int:
    async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
        return (await client.get(f"{system.registry.url}/companies/{company_id}")).status_code
