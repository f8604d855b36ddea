"""The consumer's rules, with small fakes: handle once, skip duplicates, retry, dead-letter."""

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from pymongo.errors import ServerSelectionTimeoutError

from eci_common.consumer import EventConsumer, ReceivedRecord
from eci_common.envelope import Event, EventMetadata, KafkaRecord, new_event, to_record
from eci_common.errors import PermanentError
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.settings import ConsumerSettings


class FakeIdempotency:
    def __init__(self) -> None:
        self.handled: set[tuple[str, str, str]] = set()

    async def seen(self, group: str, meta: EventMetadata) -> bool:
        return (group, meta.source, meta.id) in self.handled

    async def record(self, group: str, metas: Sequence[EventMetadata]) -> None:
        self.handled.update((group, meta.source, meta.id) for meta in metas)


class FakePublisher:
    def __init__(self) -> None:
        self.records: list[KafkaRecord] = []

    async def publish(self, record: KafkaRecord) -> None:
        self.records.append(record)


def _consumer(max_attempts: int = 3) -> tuple[EventConsumer, FakeIdempotency, FakePublisher]:
    idempotency, dead_letters = FakeIdempotency(), FakePublisher()
    consumer = EventConsumer(
        group="g",
        processed=idempotency,
        dead_letters=dead_letters,
        dead_letter_topic="eci.test.dead-letters",
        settings=ConsumerSettings(
            consumer_group="g",
            consumer_max_attempts=max_attempts,
            consumer_backoff_initial_s=0.001,
            consumer_backoff_max_s=0.002,
        ),
    )
    return consumer, idempotency, dead_letters


def _record(offset: int = 0, **header_overrides: str) -> ReceivedRecord:
    payload = CompanyRegisteredV1(
        company_id="c-1",
        version=1,
        legal_name="Cadrans du Doubs",
        country="FR",
        registered_at=datetime(2024, 5, 30, tzinfo=UTC),
    )
    record = to_record(new_event(payload, source="/eci/registry"))
    return ReceivedRecord(
        topic=record.topic,
        partition=0,
        offset=offset,
        key=record.key,
        headers={**record.headers, **header_overrides},
        body=record.body,
    )


async def test_event_is_handled_once_and_duplicates_are_skipped() -> None:
    consumer, idempotency, dead_letters = _consumer()
    calls: list[str] = []

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        calls.append(event.data.company_id)

    record = _record()
    await consumer.process(record)
    await consumer.process(record)  # the same event, redelivered

    assert calls == ["c-1"]
    assert len(idempotency.handled) == 1
    assert dead_letters.records == []


async def test_malformed_headers_go_to_dead_letters_with_the_reason() -> None:
    consumer, _, dead_letters = _consumer()
    await consumer.process(_record(offset=7, ce_specversion="0.3"))

    [letter] = dead_letters.records
    assert letter.topic == "eci.test.dead-letters"
    assert letter.headers["dlq_error_type"] == "MalformedEvent"
    assert "specversion" in letter.headers["dlq_reason"]
    assert letter.headers["dlq_group"] == "g"
    assert letter.headers["dlq_original_offset"] == "7"
    assert letter.headers["dlq_permanent"] == "true"
    assert letter.key == "c-1"


async def test_unknown_type_or_version_goes_to_dead_letters() -> None:
    consumer, _, dead_letters = _consumer()
    await consumer.process(_record(ce_type="fr.horlogerie.eci.registry.company.registered.v9"))
    assert [letter.headers["dlq_error_type"] for letter in dead_letters.records] == [
        "UnknownEventType"
    ]


async def test_known_type_this_group_does_not_handle_is_skipped_quietly() -> None:
    consumer, idempotency, dead_letters = _consumer()
    await consumer.process(_record())
    assert dead_letters.records == []
    assert idempotency.handled == set()


async def test_invalid_payload_goes_to_dead_letters_naming_the_field() -> None:
    consumer, _, dead_letters = _consumer()

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        raise AssertionError("must not be called")

    good = _record()
    bad = dataclasses.replace(good, body=b'{"company_id": "c-1"}')
    await consumer.process(bad)
    [letter] = dead_letters.records
    assert "legal_name" in letter.headers["dlq_reason"]


async def test_transient_errors_are_retried_until_success() -> None:
    consumer, idempotency, dead_letters = _consumer(max_attempts=2)
    attempts: list[int] = []

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        attempts.append(1)
        if len(attempts) < 5:  # more than max_attempts: infrastructure errors are not counted
            raise ServerSelectionTimeoutError("database unreachable")

    await consumer.process(_record())
    assert len(attempts) == 5
    assert dead_letters.records == []
    assert len(idempotency.handled) == 1


async def test_a_bug_is_retried_then_dead_lettered_with_the_attempt_count() -> None:
    consumer, idempotency, dead_letters = _consumer(max_attempts=3)
    attempts: list[int] = []

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        attempts.append(1)
        raise ZeroDivisionError("a bug")

    await consumer.process(_record())
    assert len(attempts) == 3
    [letter] = dead_letters.records
    assert letter.headers["dlq_attempts"] == "3"
    assert letter.headers["dlq_permanent"] == "false"
    assert idempotency.handled == set()


async def test_a_permanent_error_from_a_handler_is_not_retried() -> None:
    consumer, _, dead_letters = _consumer(max_attempts=5)
    attempts: list[int] = []

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        attempts.append(1)
        raise PermanentError("refused by a rule")

    await consumer.process(_record())
    assert len(attempts) == 1
    assert dead_letters.records[0].headers["dlq_reason"] == "refused by a rule"


@pytest.mark.parametrize("header", ["ce_correlationid", "ce_causationid"])
async def test_events_without_causal_ids_are_refused(header: str) -> None:
    consumer, _, dead_letters = _consumer()
    record = _record()
    headers = dict(record.headers)
    del headers[header]
    await consumer.process(dataclasses.replace(record, headers=headers))
    assert len(dead_letters.records) == 1
