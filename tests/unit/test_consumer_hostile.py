"""Hostile records, with small fakes: whatever a record holds, it is handled or dead-lettered,
and the consumer goes on."""

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import ConsumerRecord
from aiokafka.errors import MessageSizeTooLargeError

from eci_common import topics
from eci_common.consumer import EventConsumer, ReceivedRecord, received
from eci_common.envelope import Event, EventMetadata, KafkaRecord, new_event, to_record
from eci_common.events.projects import ProjectProposedV1
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.settings import ConsumerSettings


class FakeIdempotency:
    def __init__(self, *, broken: bool = False) -> None:
        self.handled: set[str] = set()
        self.broken = broken

    async def seen(self, group: str, meta: EventMetadata) -> bool:
        if self.broken:
            raise ValueError("a document this database cannot store")
        return meta.id in self.handled

    async def record(self, group: str, metas: Sequence[EventMetadata]) -> None:
        self.handled.update(meta.id for meta in metas)


class FakePublisher:
    def __init__(self, *, max_bytes: int | None = None) -> None:
        self.records: list[KafkaRecord] = []
        self.max_bytes = max_bytes

    async def publish(self, record: KafkaRecord) -> None:
        if self.max_bytes is not None and len(record.body) > self.max_bytes:
            raise MessageSizeTooLargeError("the broker refuses records this large")
        self.records.append(record)


def _consumer(
    *,
    max_record_bytes: int = 256 * 1024,
    idempotency: FakeIdempotency | None = None,
    dead_letters: FakePublisher | None = None,
) -> tuple[EventConsumer, FakePublisher, list[str]]:
    dead_letters = dead_letters or FakePublisher()
    consumer = EventConsumer(
        group="g",
        processed=idempotency or FakeIdempotency(),
        dead_letters=dead_letters,
        dead_letter_topic="eci.test.dead-letters",
        settings=ConsumerSettings(
            consumer_group="g",
            consumer_max_record_bytes=max_record_bytes,
            consumer_backoff_initial_s=0.001,
            consumer_backoff_max_s=0.002,
        ),
    )
    handled: list[str] = []

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        handled.append(event.data.company_id)

    return consumer, dead_letters, handled


def _record(topic: str = topics.REGISTRY_COMPANIES) -> ReceivedRecord:
    payload = CompanyRegisteredV1(
        company_id="c-1",
        version=1,
        legal_name="Cadrans du Doubs",
        country="FR",
        registered_at=datetime(2024, 5, 30, tzinfo=UTC),
    )
    record = to_record(new_event(payload, source="/eci/registry"))
    return ReceivedRecord(topic, 0, 0, record.key, record.headers, record.body)


async def test_a_record_over_the_size_limit_is_dead_lettered_unread() -> None:
    consumer, dead_letters, handled = _consumer(max_record_bytes=1024)
    big = dataclasses.replace(_record(), body=b'{"legal_name": "' + b"x" * 2000 + b'"}')
    await consumer.process(big)
    await consumer.process(_record())
    [letter] = dead_letters.records
    assert letter.headers["dlq_error_type"] == "MalformedEvent"
    assert "exceeds the limit of 1024 bytes" in letter.headers["dlq_reason"]
    assert handled == ["c-1"]


async def test_a_known_type_on_another_of_our_topics_is_dead_lettered_even_if_handled() -> None:
    consumer, dead_letters, handled = _consumer()
    await consumer.process(_record(topic=topics.PROJECTS_PROJECTS))
    [letter] = dead_letters.records
    assert (
        "travels on 'eci.registry.companies', not on 'eci.projects.projects'"
        in (letter.headers["dlq_reason"])
    )
    assert handled == []


async def test_a_type_this_group_ignores_on_a_wrong_topic_is_dead_lettered_too() -> None:
    consumer, dead_letters, _ = _consumer()
    record = dataclasses.replace(
        _record(), headers={**_record().headers, "ce_type": ProjectProposedV1.event_type}
    )
    await consumer.process(record)
    assert [letter.headers["dlq_error_type"] for letter in dead_letters.records] == [
        "MalformedEvent"
    ]


async def test_topics_that_are_not_ours_carry_any_type() -> None:
    consumer, dead_letters, handled = _consumer()
    await consumer.process(_record(topic="test.anything"))
    assert handled == ["c-1"]
    assert dead_letters.records == []


async def test_an_unexpected_failure_outside_the_handler_dead_letters_the_record() -> None:
    consumer, dead_letters, handled = _consumer(idempotency=FakeIdempotency(broken=True))
    await consumer.process(_record())
    [letter] = dead_letters.records
    assert letter.headers["dlq_error_type"] == "ValueError"
    assert handled == []


async def test_a_letter_too_large_for_the_broker_keeps_its_headers_without_the_body() -> None:
    small_broker = FakePublisher(max_bytes=50)
    consumer, _, _ = _consumer(max_record_bytes=100, dead_letters=small_broker)
    record = dataclasses.replace(
        _record(), headers={**_record().headers, "x-bulk": "y" * 5000}, body=b"z" * 500
    )
    await consumer.process(record)
    [letter] = small_broker.records
    assert letter.body == b""
    assert letter.headers["dlq_body_omitted_bytes"] == "500"
    assert letter.headers["ce_id"] == record.headers["ce_id"]
    assert "x-bulk" not in letter.headers
    assert "exceeds" in letter.headers["dlq_reason"]


def test_binary_and_null_headers_are_read_not_refused() -> None:
    raw: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        topic="t",
        partition=0,
        offset=3,
        timestamp=0,
        timestamp_type=0,
        key=b"\xffk",
        value=None,
        checksum=None,
        serialized_key_size=2,
        serialized_value_size=0,
        headers=[("ce_id", b"\xff\xfe"), ("trace", None), ("ce_type", b"x.v1")],
    )
    record = received(raw)
    assert record.headers == {"ce_id": "\\xff\\xfe", "trace": "", "ce_type": "x.v1"}
    assert record.body == b""
    assert record.key == "\ufffdk"
