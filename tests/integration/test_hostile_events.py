"""Hostile records on the topics each service consumes: every one lands on the service's
dead-letter topic with its reason, the valid event produced after them is handled, and the
service process neither crashed nor restarted.

The registry consumes no topic: it has no consumer to feed. Projects and notifications run as
processes on a broker of this module's own, because the records are produced to the real topic
names (`eci.registry.companies`, `eci.projects.projects`): on the shared broker they would stay
in those topics for every later test and integrator to read.

Cases, all on partition 0 in this order (so that handling the last proves the others were
passed): a body that is not JSON; JSON of the wrong shape for its `ce_type`; an unknown version
(`.v9`) of a known type; a known type that belongs on another topic; no CloudEvents headers at
all; a record over `CONSUMER_MAX_RECORD_BYTES` (256 KiB by default). Then a valid event with a
binary header, a header without value and a `reply_to` header, which is handled (not refused)
and answered nowhere; then the marker.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from eci_common import topics
from eci_common.dead_letters import DeadLetter, read_dead_letters
from eci_common.envelope import new_event, to_record
from eci_common.events.base import EventPayload
from eci_common.events.projects import ProjectProposedV1
from eci_common.events.registry import CompanyRegisteredV1, MemberJoinedV1
from eci_common.mongo import MongoClient
from support.endpoints import Endpoints
from support.kafka_io import create_topic, read_all
from support.polling import eventually
from support.private_kafka import PrivateKafka
from support.services import make_service
from support.toolchain import require_private_broker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

Headers = list[tuple[str, bytes | None]]
NOW = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def hostile_endpoints(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoints]:
    require_private_broker(
        "hostile records go to real topic names: they need a broker of their own"
    )
    broker = PrivateKafka.create(tmp_path_factory.mktemp("hostile-kafka"))
    try:
        broker.start()
        broker.declare_topics()
        yield Endpoints(broker.bootstrap, endpoints.mongodb_uri, "hostile events' broker")
    finally:
        broker.stop()


def _company(run_id: str, name: str) -> CompanyRegisteredV1:
    return CompanyRegisteredV1(
        company_id=f"{run_id}-{name}",
        version=1,
        legal_name=f"Entreprise {name}",
        country="FR",
        registered_at=NOW,
    )


def _project(run_id: str, name: str) -> ProjectProposedV1:
    return ProjectProposedV1(
        project_id=f"{run_id}-{name}",
        version=1,
        cluster_id="cl-1",
        lead_company_id="c-1",
        title=f"Projet {name}",
        summary="Cadran émail",
        kind="innovation",
        proposed_at=NOW,
    )


def _member(run_id: str, name: str) -> MemberJoinedV1:
    return MemberJoinedV1(
        cluster_id=f"{run_id}-{name}",
        version=1,
        company_id="c-1",
        role="member",
        joined_at=NOW,
    )


@dataclass(frozen=True)
class Case:
    """One service: a topic it reads, how to make an event it handles there, and one of a known
    type that belongs on another topic."""

    service: str
    topic: str
    source: str
    valid: Callable[[str, str], EventPayload]
    misplaced: Callable[[str, str], EventPayload]


CASES = [
    Case("projects", topics.REGISTRY_COMPANIES, "/eci/registry", _company, _member),
    Case("notifications", topics.PROJECTS_PROJECTS, "/eci/projects", _project, _company),
]


def _headers(payload: EventPayload, source: str) -> tuple[str, Headers]:
    event = new_event(payload, source=source)
    record = to_record(event)
    return event.meta.id, [(name, value.encode()) for name, value in record.headers.items()]


def _with(headers: Headers, **changes: str) -> Headers:
    return [(name, changes[name].encode() if name in changes else value) for name, value in headers]


async def _produce(bootstrap: str, topic: str, records: list[tuple[str, Headers, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2**21)
    await producer.start()
    try:
        for key, headers, body in records:
            await producer.send_and_wait(
                topic, body, key=key.encode(), partition=0, headers=headers
            )
    finally:
        await producer.stop()


@pytest.mark.parametrize("case", CASES, ids=[case.service for case in CASES])
async def test_hostile_records_are_dead_lettered_and_the_consumer_goes_on(
    case: Case, hostile_endpoints: Endpoints, mongo: MongoClient, run_id: str, log_dir: Path
) -> None:
    bootstrap = hostile_endpoints.kafka_bootstrap
    reply_topic = await create_topic(bootstrap, partitions=1)
    valid_type = case.valid(run_id, "x").event_type

    def key(name: str) -> str:
        return f"{run_id}-{name}"

    _, shape_headers = _headers(case.valid(run_id, "shape"), case.source)
    _, version_headers = _headers(case.valid(run_id, "version"), case.source)
    misplaced_id, misplaced_headers = _headers(case.misplaced(run_id, "topic"), case.source)
    big_headers = _headers(case.valid(run_id, "big"), case.source)[1]
    extra_id, extra_headers = _headers(case.valid(run_id, "extra"), case.source)
    marker_id, marker_headers = _headers(case.valid(run_id, "marker"), case.source)
    hostile = {
        "not-json": (shape_headers, b"\x00\xff{ not json"),
        "wrong-shape": (shape_headers, json.dumps({"version": "one", "title": [1]}).encode()),
        "unknown-version": (
            _with(version_headers, ce_type=valid_type.removesuffix(".v1") + ".v9"),
            case.valid(run_id, "version").model_dump_json().encode(),
        ),
        "wrong-topic": (
            misplaced_headers,
            case.misplaced(run_id, "topic").model_dump_json().encode(),
        ),
        "no-headers": ([], case.valid(run_id, "bare").model_dump_json().encode()),
        "oversized": (big_headers, b'{"title": "' + b"x" * (300 * 1024) + b'"}'),
    }
    extra = [*extra_headers, ("traceparent", b"\xff\xfe\x00"), ("empty", None)]
    extra += [("reply_to", reply_topic.encode())]
    records = [(key(name), headers, body) for name, (headers, body) in hostile.items()]
    records += [(key("extra"), extra, case.valid(run_id, "extra").model_dump_json().encode())]
    records += [
        (key("marker"), marker_headers, case.valid(run_id, "marker").model_dump_json().encode())
    ]

    service = make_service(case.service, hostile_endpoints, run_id, log_dir)
    group = service.env[f"{case.service.upper()}_CONSUMER_GROUP"]
    processed = mongo[service.database]["processed_events"]
    service.start()
    try:
        await service.wait_ready()
        pid = service.process.pid if service.process else None
        await _produce(bootstrap, case.topic, records)

        async def marker_handled() -> bool:
            found = await processed.find_one({"_id": f"{group}|{case.source}|{marker_id}"})
            return found is not None

        await eventually(marker_handled, timeout=90, what=f"{case.service} to handle the marker")
        assert await processed.find_one({"_id": f"{group}|{case.source}|{extra_id}"}), (
            "a valid event with a binary header, a header without value and reply_to is handled"
        )
        assert not await processed.find_one({"_id": f"{group}|{case.source}|{misplaced_id}"})

        dead_letter_topic = topics.dead_letter_topic(case.service)
        letters = {
            letter.key: letter
            for letter in await read_dead_letters(bootstrap, dead_letter_topic)
            # Notifications reads the other case's topic too: its letters are not this case's.
            if letter.headers.get("dlq_group") == group and (letter.key or "").startswith(run_id)
        }
        assert set(letters) == {key(name) for name in hostile}, service.log_tail()
        _check_reasons(letters, key, valid_type, case.topic)
        assert letters[key("not-json")].body == b"\x00\xff{ not json"  # kept as it came
        assert await read_all(bootstrap, reply_topic, expect=1, timeout_ms=2000) == []

        assert service.process is not None
        assert service.process.poll() is None, service.log_tail()
        assert service.process.pid == pid
    finally:
        service.stop()
    log = [
        json.loads(line) for line in service.log_path.read_text().splitlines() if line[:1] == "{"
    ]
    assert [line["event"] for line in log].count("service_started") == 1
    assert [line for line in log if "exception" in line] == []  # nothing escaped the consumer


def _check_reasons(
    letters: dict[str | None, DeadLetter], key: Callable[[str], str], valid_type: str, topic: str
) -> None:
    expected = {
        "not-json": ("MalformedEvent", "Invalid JSON"),
        "wrong-shape": ("MalformedEvent", "payload"),
        "unknown-version": ("UnknownEventType", f"{valid_type.removesuffix('.v1')}.v9"),
        "wrong-topic": ("MalformedEvent", f"not on '{topic}'"),
        "no-headers": ("MalformedEvent", "invalid CloudEvents headers"),
        "oversized": ("MalformedEvent", "exceeds the limit of 262144 bytes"),
    }
    for name, (error_type, reason) in expected.items():
        letter = letters[key(name)]
        assert letter.headers["dlq_error_type"] == error_type, (name, letter.headers)
        assert reason in letter.reason, (name, letter.reason)
        assert letter.headers["dlq_permanent"] == "true"
        assert letter.headers["dlq_original_topic"] == topic
