"""Kafka with SASL/SCRAM and ACLs on, on a broker of this module's own (`infra/kafka.sh start
--sasl`, the accounts and rights of infra/kafka-accounts.conf and infra/kafka-acls.conf): the
integrator account reads the public topics and nothing else and writes nowhere; each service
works under its own account, and can do no more than its role grants; a wrong password is
refused."""

import asyncio
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from pydantic import ValidationError

from eci_common import topics
from eci_common.kafka import client_security_kwargs
from eci_common.settings import KafkaSettings
from support.auth import staff
from support.endpoints import INFRA, Endpoints, declared_topics
from support.kafka_io import headers_of
from support.polling import eventually
from support.private_kafka import PrivateKafka, kafka_accounts
from support.services import NAMES, ServiceProcess, make_service
from support.smtp_sink import SmtpSink
from support.toolchain import require_private_broker

from .test_example_integrator import load_example

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REFUSED = (
    TopicAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
)
DEAD_LETTER_TOPICS = {topics.dead_letter_topic(name) for name in NAMES}
Record = ConsumerRecord[bytes, bytes]


# ------------------------------------------------------------------------------------------------
# The declared rights, read from infra/kafka-acls.conf
# ------------------------------------------------------------------------------------------------


def declared_rights() -> dict[str, dict[str, set[str]]]:
    """{account: {"READ": topics, "WRITE": topics, "GROUP": group prefixes}}."""
    lines = [
        line.split()
        for line in (INFRA / "kafka-acls.conf").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    rights: dict[str, dict[str, set[str]]] = {}
    for account in kafka_accounts():
        mine: dict[str, set[str]] = {"READ": set(), "WRITE": set(), "GROUP": set()}
        for role, operations, resource, _pattern, name in lines:
            if role != account.role:
                continue
            if resource == "group":
                assert account.group_prefix is not None, account
                mine["GROUP"].add(name.replace("{group}", account.group_prefix))
            for operation in {"READ", "WRITE"} & set(operations.split(",")):
                if resource == "topic":
                    mine[operation].add(name)
        rights[account.name] = mine
    return rights


def test_the_declared_rights_are_the_least_each_account_needs() -> None:
    rights = declared_rights()
    declared = {name for name, _, _ in declared_topics()}
    for account, mine in rights.items():
        assert mine["READ"] | mine["WRITE"] <= declared, f"{account}: undeclared topic"

    assert rights["integrator"] == {
        "READ": set(topics.PUBLIC_TOPICS),
        "WRITE": set(),
        "GROUP": {"integrator-"},
    }
    assert rights["registry"] == {
        "READ": set(),
        "WRITE": {
            topics.REGISTRY_COMPANIES,
            topics.REGISTRY_CLUSTERS,
            topics.REGISTRY_CONTACTS,
            topics.dead_letter_topic("registry"),
        },
        "GROUP": set(),
    }
    assert rights["projects"] == {
        "READ": {topics.REGISTRY_COMPANIES, topics.REGISTRY_CLUSTERS},
        "WRITE": {topics.PROJECTS_PROJECTS, topics.dead_letter_topic("projects")},
        "GROUP": {"eci-projects"},
    }
    assert rights["notifications"] == {
        "READ": {
            topics.REGISTRY_COMPANIES,
            topics.REGISTRY_CLUSTERS,
            topics.REGISTRY_CONTACTS,
            topics.PROJECTS_PROJECTS,
        },
        "WRITE": {topics.NOTIFICATIONS_DELIVERIES, topics.dead_letter_topic("notifications")},
        "GROUP": {"eci-notifications"},
    }
    # Personal data and dead letters: only notifications reads the contacts, nobody the DLQs.
    readers = {topic: {a for a, m in rights.items() if topic in m["READ"]} for topic in declared}
    assert readers[topics.REGISTRY_CONTACTS] == {"notifications"}
    assert all(readers[topic] == set() for topic in DEAD_LETTER_TOPICS)


def test_sasl_settings_need_an_account_and_never_show_the_password() -> None:
    with pytest.raises(ValidationError) as refused:
        KafkaSettings(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_PASSWORD="s3cr3t-pw")
    assert "KAFKA_SASL_USERNAME" in str(refused.value)
    assert "s3cr3t-pw" not in str(refused.value)
    with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD"):
        KafkaSettings(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="registry")
    settings = KafkaSettings(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_USERNAME="registry",
        KAFKA_SASL_PASSWORD="s3cr3t-pw",
    )
    assert "s3cr3t-pw" not in repr(settings)
    assert client_security_kwargs(settings)["sasl_mechanism"] == "SCRAM-SHA-512"
    assert client_security_kwargs(KafkaSettings()) == {}  # PLAINTEXT: as before


# ------------------------------------------------------------------------------------------------
# On the broker
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sasl_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    require_private_broker("starts a broker of its own, which needs java and mvn")
    broker = PrivateKafka.create(tmp_path_factory.mktemp("sasl-kafka"), sasl=True)
    broker.start()
    try:
        broker.declare_topics()  # as the admin
        yield broker
    finally:
        broker.stop()


async def may_read(settings: KafkaSettings, topic: str, group: str | None = None) -> bool:
    """Reads the topic from the beginning (with the group, or with none): False when the broker
    refuses, True when records or an empty fetch come back."""
    # Subscribed from the constructor: `start` then waits for the topic's metadata, and raises
    # when the account may not even describe it.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_security_kwargs(settings),
    )
    try:
        await consumer.start()

        async def fetched() -> bool:
            # Partitions assigned, and a fetch answered for each (it sets the high watermark):
            # a refusal (of the metadata, the group or the fetch) raises instead.
            await consumer.getmany(timeout_ms=200)
            assigned = consumer.assignment()
            return bool(assigned) and all(consumer.highwater(tp) is not None for tp in assigned)

        await eventually(fetched, timeout=60, what=f"a fetch of {topic}")
    except REFUSED:
        return False
    finally:
        await consumer.stop()
    return True


async def may_write(settings: KafkaSettings, topic: str) -> bool:
    """Tries to produce, like the services (acks=all, idempotent); False when refused. Only
    ever called where the answer should be no: a yes writes a record."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **client_security_kwargs(settings),
    )
    try:
        # With idempotence, an account that may write no topic at all is refused at the start.
        await producer.start()
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"probe"), 30)
    except REFUSED:
        return False
    finally:
        await producer.stop()
    return True


async def read_until(
    settings: KafkaSettings,
    names: list[str],
    *,
    group: str,
    until: Callable[[list[Record]], bool],
    what: str,
) -> list[Record]:
    """Consumes `names` with the group from the beginning until `until(records so far)`."""
    consumer = AIOKafkaConsumer(
        *names,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_security_kwargs(settings),
    )
    records: list[Record] = []
    await consumer.start()
    try:

        async def enough() -> bool:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
            return until(records)

        await eventually(enough, timeout=120, what=what)
    finally:
        await consumer.stop()
    return records


async def test_the_integrator_cannot_write_even_a_public_topic(sasl_kafka: PrivateKafka) -> None:
    integrator = sasl_kafka.settings("integrator")
    for topic in sorted(topics.PUBLIC_TOPICS):
        assert not await may_write(integrator, topic), topic
    # Without idempotence the refusal names the topic itself.
    producer = AIOKafkaProducer(
        bootstrap_servers=integrator.kafka_bootstrap_servers,
        **client_security_kwargs(integrator),
    )
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError, match=topics.REGISTRY_COMPANIES):
            await producer.send_and_wait(topics.REGISTRY_COMPANIES, b"{}", key=b"intruder")
    finally:
        await producer.stop()


async def test_the_integrator_cannot_read_internal_topics_nor_use_a_service_group(
    sasl_kafka: PrivateKafka, run_id: str
) -> None:
    integrator = sasl_kafka.settings("integrator")
    for topic in sorted(topics.INTERNAL_TOPICS):  # contacts and the three dead-letter topics
        assert not await may_read(integrator, topic), topic
        assert not await may_read(integrator, topic, group=f"integrator-{run_id}"), topic
    assert await may_read(integrator, topics.REGISTRY_COMPANIES, group=f"integrator-{run_id}")
    assert not await may_read(
        integrator, topics.REGISTRY_COMPANIES, group=f"eci-notifications-{run_id}"
    )


async def test_each_account_reads_and_writes_only_what_its_role_grants(
    sasl_kafka: PrivateKafka, run_id: str
) -> None:
    rights = declared_rights()
    every_topic = sorted(name for name, _, _ in declared_topics())
    probes = [
        (account, "READ", topic, may_read(sasl_kafka.settings(account), topic))
        for account in rights
        for topic in every_topic
    ] + [
        # Writes are tried only where they must fail: an allowed one would leave a record.
        (account, "WRITE", topic, may_write(sasl_kafka.settings(account), topic))
        for account in rights
        for topic in every_topic
        if topic not in rights[account]["WRITE"]
    ]
    outcomes = await asyncio.gather(*(probe for *_, probe in probes))
    allowed = {
        (account, op, topic)
        for (account, op, topic, _), ok in zip(probes, outcomes, strict=True)
        if ok
    }
    expected = {
        (account, "READ", topic) for account, mine in rights.items() for topic in mine["READ"]
    }
    assert allowed == expected

    # A service's groups are its own.
    notifications = sasl_kafka.settings("notifications")
    assert not await may_read(
        notifications, topics.REGISTRY_COMPANIES, group=f"eci-projects-{run_id}"
    )


async def test_a_wrong_password_is_refused(
    sasl_kafka: PrivateKafka, caplog: pytest.LogCaptureFixture
) -> None:
    right = sasl_kafka.settings("integrator")
    wrong = sasl_kafka.settings("integrator", KAFKA_SASL_PASSWORD="not-the-password")
    assert await may_read(right, topics.REGISTRY_COMPANIES)
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await may_read(wrong, topics.REGISTRY_COMPANIES)
    assert "SaslAuthenticationFailed" in caplog.text
    assert "not-the-password" not in caplog.text


def _company(name: str, email: str) -> dict[str, Any]:
    return {
        "legal_name": name,
        "city": "Morteau",
        "roles": ["watch_brand"],
        "capabilities": ["movements"],
        "contacts": [{"name": f"Contact {name}", "email": email, "consent": True}],
    }


async def test_each_service_works_under_its_own_account(
    sasl_kafka: PrivateKafka, endpoints: Endpoints, run_id: str, log_dir: Path, tmp_path: Path
) -> None:
    sink = SmtpSink(tmp_path / "mail")
    sink.start()
    broker = Endpoints(sasl_kafka.bootstrap, endpoints.mongodb_uri, "SASL broker")
    extra = {"notifications": {"SMTP_PORT": str(sink.port), "DELIVERY_POLL_INTERVAL_S": "0.2"}}
    services: dict[str, ServiceProcess] = {}
    for name in NAMES:
        service = make_service(
            name,
            broker,
            run_id,
            log_dir,
            CONSUMER_GROUP=f"eci-{name}-{run_id}",
            **extra.get(name, {}),
        )
        service.env.update(sasl_kafka.credentials(name))  # its own account, nobody else's
        services[name] = service
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            await service.wait_ready()
        registry, projects, notifications = (services[name].url for name in NAMES)
        async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
            cluster = await client.post(
                f"{registry}/clusters",
                json={"code": f"acl-{run_id}", "name": "Grappe ACL", "theme": "movements"},
            )
            assert cluster.status_code == 201, cluster.text
            cluster_id = cluster.json()["id"]
            ids: dict[str, str] = {}
            for role in ("first", "second"):
                created = await client.post(
                    f"{registry}/companies",
                    json=_company(f"ACL {role} {run_id}", f"{role}-{run_id}@acl.example"),
                )
                assert created.status_code == 201, created.text
                ids[role] = created.json()["id"]

            # notifications read the company (staff inbox) and its contacts (internal topic).
            async def in_staff_inbox() -> bool:
                inbox = await client.get(f"{notifications}/notifications")
                return inbox.status_code == 200 and any(
                    n["company_id"] == ids["first"] for n in inbox.json()
                )

            await eventually(in_staff_inbox, timeout=90, what="the staff notification")
            for company_id in ids.values():

                async def contacts_known(company_id: str = company_id) -> bool:
                    found = await client.get(f"{notifications}/companies/{company_id}/contacts")
                    return found.status_code == 200 and bool(found.json())

                await eventually(contacts_known, timeout=90, what="the contacts in notifications")

            for role in ("first", "second"):
                joined = await client.put(
                    f"{registry}/clusters/{cluster_id}/members/{ids[role]}", json={}
                )
                assert joined.status_code == 200, joined.text

            # projects read the company and its grappe, with its own group.
            async def in_directory() -> bool:
                found = await client.get(f"{projects}/companies/{ids['second']}")
                return found.status_code == 200 and cluster_id in found.json()["clusters"]

            await eventually(in_directory, timeout=90, what="the company in projects' directory")
            project = await client.post(
                f"{projects}/projects",
                json={
                    "cluster_id": cluster_id,
                    "lead_company_id": ids["first"],
                    "title": "Projet sous ACL",
                    "kind": "innovation",
                },
            )
            assert project.status_code == 201, project.text
            project_id = project.json()["id"]

        # What they published, read back by the integrator with a group of its prefix: the
        # registry's, projects' and notifications' (the e-mail telling the first company that
        # the second joined) public events.
        def seen(records: list[Record]) -> set[tuple[str, str]]:
            return {
                (headers_of(r).get("ce_type", ""), headers_of(r).get("ce_subject", ""))
                for r in records
            }

        registered = ("fr.horlogerie.eci.registry.company.registered.v1", ids["first"])
        proposed = ("fr.horlogerie.eci.projects.project.proposed.v1", project_id)
        delivered = "fr.horlogerie.eci.notifications.delivery.delivered.v1"
        records = await read_until(
            sasl_kafka.settings("integrator"),
            [topics.REGISTRY_COMPANIES, topics.PROJECTS_PROJECTS, topics.NOTIFICATIONS_DELIVERIES],
            group=f"integrator-{run_id}",
            until=lambda rs: (
                {registered, proposed} <= seen(rs)
                and any(kind == delivered for kind, _ in seen(rs))
            ),
            what="the integrator to read every service's events",
        )
        assert {r.topic for r in records} == {
            topics.REGISTRY_COMPANIES,
            topics.PROJECTS_PROJECTS,
            topics.NOTIFICATIONS_DELIVERIES,
        }
        assert sink.to(f"first-{run_id}@acl.example")
    finally:
        for service in services.values():
            if service.process is not None:
                service.stop()
        sink.stop()


async def test_the_example_integrator_reads_every_public_topic_with_its_account(
    sasl_kafka: PrivateKafka, run_id: str
) -> None:
    """After the services' journey above: the confluent-kafka example, logged in as the
    integrator with a group of its prefix, reads the four public topics and finds every record
    valid; with a group outside its prefix it is refused."""
    example = load_example()
    login = example.security_config(sasl_kafka.credentials("integrator"))
    summary = await asyncio.to_thread(
        example.consume,
        sasl_kafka.bootstrap,
        group_id=f"integrator-{run_id}-example",
        timeout_s=90.0,
        extra_config=login,
    )
    assert summary.invalid == [], summary.render()
    assert summary.records > 0, summary.render()
    with pytest.raises(example.KafkaException, match="GROUP_AUTHORIZATION_FAILED"):
        await asyncio.to_thread(
            example.consume,
            sasl_kafka.bootstrap,
            group_id=f"eci-projects-{run_id}",
            timeout_s=60.0,
            extra_config=login,
        )
