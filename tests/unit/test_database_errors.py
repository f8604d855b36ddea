"""Which database errors are an outage (retried without limit) and which are about the request
(dead-lettered): the messages are those FerretDB v1.24.2 returned with its PostgreSQL stopped."""

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteError,
)

from eci_common.consumer import EventConsumer, ReceivedRecord, is_transient
from eci_common.envelope import Event, EventMetadata, KafkaRecord, new_event, to_record
from eci_common.errors import TransientError
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.mongo import is_database_unavailable
from eci_common.settings import ConsumerSettings

# What FerretDB v1.24.2 answered (OperationFailure, code 1 InternalError, no label) to find,
# insert, update, count, delete and ping once its PostgreSQL was stopped.
_NO_CONNECTION = (
    "[msg_find.go:344 handler.handleMaxTimeMSError] [collection.go:109 "
    "postgresql.(*collection).Query] failed to connect to `user=eci database=ferretdb_38518`:\n\t"
    "127.0.0.1:38517 (127.0.0.1): dial error: dial tcp 127.0.0.1:38517: connect: connection refused"
)
_CUT_BY_SHUTDOWN = (
    "[msg_update.go:117 handler.(*Handler).updateDocument] [query_iterator.go:113 "
    "postgresql.(*queryIterator).Next] FATAL: terminating connection due to administrator "
    "command (SQLSTATE 57P01)"
)
_RESET = (
    "failed to connect to `user=eci database=ferretdb_1`: 127.0.0.1:1 (127.0.0.1): tls error: "
    "read tcp 127.0.0.1:2->127.0.0.1:1: read: connection reset by peer"
)


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


def _record() -> ReceivedRecord:
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
        offset=0,
        key=record.key,
        headers=record.headers,
        body=record.body,
    )


def _ferretdb_internal(message: str) -> OperationFailure:
    return OperationFailure(
        message, 1, {"ok": 0.0, "errmsg": message, "code": 1, "codeName": "InternalError"}
    )


@pytest.mark.parametrize("message", [_NO_CONNECTION, _CUT_BY_SHUTDOWN, _RESET])
def test_ferretdb_without_its_postgresql_is_an_outage(message: str) -> None:
    assert is_database_unavailable(_ferretdb_internal(message))


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("connection closed"),
        NetworkTimeout("timed out"),
        NotPrimaryError("not primary"),
        ServerSelectionTimeoutError("no servers"),
        OperationFailure("not writable primary", 10107),
        OperationFailure("shutting down", 91),
        OperationFailure("stepped down", 189),
        OperationFailure("interrupted at shutdown", 11600),
        OperationFailure("time limit", 50),
        _ferretdb_internal("could not serialize access (SQLSTATE 40001)"),
        _ferretdb_internal("sorry, too many clients already (SQLSTATE 53300)"),
        _ferretdb_internal("the database system is starting up (SQLSTATE 57P03)"),
        _ferretdb_internal("connection failure (SQLSTATE 08006)"),
    ],
)
def test_network_server_and_backend_outages_are_transient(error: Exception) -> None:
    assert is_database_unavailable(error)
    assert is_transient(error)


def test_an_error_labelled_retryable_is_transient() -> None:
    error = OperationFailure("anything", 999, {"errorLabels": ["RetryableWriteError"]})
    assert is_database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        DuplicateKeyError("E11000 duplicate key", 11000),
        _ferretdb_internal("duplicate key value violates unique constraint (SQLSTATE 23505)"),
        _ferretdb_internal("unsupported Unicode escape sequence (SQLSTATE 22P05)"),
        OperationFailure("Document failed validation", 121),
        OperationFailure("bad value", 2),
        WriteError("write refused", 2),
        ValueError("a bug"),
    ],
)
def test_errors_about_the_request_are_not_transient(error: Exception) -> None:
    assert not is_database_unavailable(error)
    assert not is_transient(error)


def _bulk(codes: Sequence[int], message: str = "m") -> BulkWriteError:
    errors = [{"index": i, "code": code, "errmsg": message} for i, code in enumerate(codes)]
    return BulkWriteError({"writeErrors": errors, "writeConcernErrors": [], "nInserted": 0})


def test_a_bulk_write_is_transient_only_if_every_failure_is() -> None:
    assert is_database_unavailable(_bulk([91, 10107]))
    assert is_database_unavailable(_bulk([1, 1], message=_NO_CONNECTION))
    assert not is_database_unavailable(_bulk([91, 11000]))
    assert not is_database_unavailable(_bulk([]))


def test_our_own_transient_error_is_transient() -> None:
    assert is_transient(TransientError("later"))


async def test_an_outage_longer_than_the_attempts_is_retried_not_dead_lettered() -> None:
    """Twelve failures of FerretDB's backend, with five attempts allowed: the event is handled
    once the backend is back, and nothing is dead-lettered."""
    idempotency, dead_letters = FakeIdempotency(), FakePublisher()
    consumer = EventConsumer(
        group="g",
        processed=idempotency,
        dead_letters=dead_letters,
        dead_letter_topic="eci.test.dead-letters",
        settings=ConsumerSettings(
            consumer_group="g",
            consumer_max_attempts=5,
            consumer_backoff_initial_s=0.001,
            consumer_backoff_max_s=0.002,
        ),
    )
    failures = iter(range(12))
    applied: list[str] = []

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        if next(failures, None) is not None:
            raise _ferretdb_internal(_NO_CONNECTION)
        applied.append(event.data.company_id)

    await consumer.process(_record())
    assert applied == ["c-1"]
    assert dead_letters.records == []
    assert len(idempotency.handled) == 1


class _FlakyIdempotency(FakeIdempotency):
    """The idempotency record's own reads and writes fail while the backend is down."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise _ferretdb_internal(_CUT_BY_SHUTDOWN)

    async def seen(self, group: str, meta: EventMetadata) -> bool:
        self._maybe_fail()
        return await super().seen(group, meta)

    async def record(self, group: str, metas: Sequence[EventMetadata]) -> None:
        self._maybe_fail()
        await super().record(group, metas)


async def test_an_outage_of_the_idempotency_record_is_retried_not_dead_lettered() -> None:
    idempotency = _FlakyIdempotency(failures=4)
    dead_letters = FakePublisher()
    consumer = EventConsumer(
        group="g",
        processed=idempotency,
        dead_letters=dead_letters,
        dead_letter_topic="eci.test.dead-letters",
        settings=ConsumerSettings(
            consumer_group="g", consumer_backoff_initial_s=0.001, consumer_backoff_max_s=0.002
        ),
    )
    applied: list[str] = []

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        applied.append(event.data.company_id)

    await consumer.process(_record())
    assert applied == ["c-1"]
    assert dead_letters.records == []
    assert idempotency.failures == 0
