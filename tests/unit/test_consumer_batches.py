"""A batch of records: handled in order, its idempotency records written once after the last
effect, and on a failure the events already handled are remembered before the batch is read
again."""

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from eci_common.consumer import EventConsumer, ReceivedRecord
from eci_common.envelope import Event, EventMetadata, KafkaRecord, new_event, to_record
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.settings import ConsumerSettings


class RecordingIdempotency:
    """Keeps each `record` call apart, and the order of calls among the handler's."""

    def __init__(self, journal: list[str]) -> None:
        self.calls: list[list[str]] = []
        self.journal = journal

    async def seen(self, group: str, meta: EventMetadata) -> bool:
        return any(meta.id in call for call in self.calls)

    async def record(self, group: str, metas: Sequence[EventMetadata]) -> None:
        self.calls.append([meta.id for meta in metas])
        self.journal.append("record")


class RefusingPublisher:
    """A dead-letter topic that fails for a reason no retry can mend."""

    async def publish(self, record: KafkaRecord) -> None:
        raise RuntimeError("the dead-letter topic refuses this record")


def _consumer(journal: list[str]) -> tuple[EventConsumer, RecordingIdempotency]:
    idempotency = RecordingIdempotency(journal)
    consumer = EventConsumer(
        group="g",
        processed=idempotency,
        dead_letters=RefusingPublisher(),
        dead_letter_topic="eci.test.dead-letters",
        settings=ConsumerSettings(
            consumer_group="g", consumer_backoff_initial_s=0.001, consumer_backoff_max_s=0.002
        ),
    )

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        journal.append(event.data.company_id)

    return consumer, idempotency


def _record(company_id: str, offset: int) -> tuple[ReceivedRecord, str]:
    event = new_event(
        CompanyRegisteredV1(
            company_id=company_id,
            version=1,
            legal_name="Cadrans du Doubs",
            country="FR",
            registered_at=datetime(2024, 5, 30, tzinfo=UTC),
        ),
        source="/eci/registry",
    )
    record = to_record(event)
    return ReceivedRecord(record.topic, 0, offset, record.key, record.headers, record.body), (
        event.meta.id
    )


async def test_a_batch_is_remembered_in_one_write_after_its_last_effect() -> None:
    journal: list[str] = []
    consumer, idempotency = _consumer(journal)
    (a, a_id), (b, b_id), (c, c_id) = (_record(f"c-{n}", n) for n in range(3))

    await consumer.process_batch([a, b, c])

    assert journal == ["c-0", "c-1", "c-2", "record"]
    assert idempotency.calls == [[a_id, b_id, c_id]]


async def test_an_event_twice_in_one_batch_is_handled_once() -> None:
    journal: list[str] = []
    consumer, idempotency = _consumer(journal)
    (a, a_id), (b, b_id) = _record("c-a", 0), _record("c-b", 1)

    await consumer.process_batch([a, b, a])  # a relay's republication, read in the same batch

    assert journal == ["c-a", "c-b", "record"]
    assert idempotency.calls == [[a_id, b_id]]


async def test_a_batch_that_cannot_go_on_remembers_what_it_handled_and_fails() -> None:
    journal: list[str] = []
    consumer, idempotency = _consumer(journal)
    (a, a_id), (b, _) = _record("c-a", 0), _record("c-b", 2)
    poison = ReceivedRecord(a.topic, 0, 1, "k", {"ce_specversion": "0.3"}, b"{}")

    with pytest.raises(RuntimeError, match="refuses"):
        await consumer.process_batch([a, poison, b])

    # The batch is not committed (the caller rewinds it); the event handled before the record
    # that could not be dead-lettered is remembered, so the redelivery skips it, and the one
    # after it was never handled.
    assert journal == ["c-a", "record"]
    assert idempotency.calls == [[a_id]]
