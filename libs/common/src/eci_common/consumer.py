"""At-least-once, idempotent consumption of our events, with retries and dead letters.

FastStream's default for Kafka (`AckPolicy.ACK_FIRST`) commits an offset before the handler runs:
at most once. Here every subscriber is `AckPolicy.MANUAL` and the offset is committed only after
the event's effect is stored, or after the event is safely in the dead-letter topic.

The consumer reads batches (`getmany`, up to `consumer_batch_max_records`) and handles their
records one after the other, in partition order. The idempotency records of the batch's handled
events are written with one insert after the last effect, then the batch's offsets with one
commit: a commit never covers a record not yet handled, and a crash before it redelivers the
whole batch, whose effects the handlers' deterministic ids and version guards absorb. A
duplicate inside one batch is caught by the batch's own list of handled events.

Outcomes of one record:
- handled, or already handled by this group (idempotency record): commit;
- a type this group does not handle but that a contract describes, on the topic the contract
  names: commit, nothing to do;
- permanent error (larger than `consumer_max_record_bytes`, missing or invalid CloudEvents
  headers, unknown type or version, a known type on a topic that is not its own, a body that is
  not the type's JSON, `PermanentError` from a handler): dead-letter with the reason, then commit;
- infrastructure unreachable (`is_transient`: the broker, or any layer of the database, FerretDB's
  PostgreSQL included, classified by error class, code, label and backend SQLSTATE): retried
  with capped exponential backoff (tenacity), without limit and without committing;
- any other exception: retried up to `consumer_max_attempts`, then dead-lettered.

No record is read by FastStream's own parser and decoder: they fail on a header that is not UTF-8
(or has no value) and on a body that is not what its content type says, before our handler runs,
and the next record's commit would then skip the failed one without a dead letter. Replies are
off: a `reply_to` header must not make a consumer publish where a producer asks.
"""

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import structlog
import tenacity
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from eci_common import topics
from eci_common.dead_letters import DLQ_PREFIX
from eci_common.envelope import (
    HEADER_PREFIX,
    Event,
    EventMetadata,
    KafkaRecord,
    read_metadata,
    read_payload,
)
from eci_common.errors import MalformedEvent, PermanentError, TransientError, UnknownEventType
from eci_common.events import catalog
from eci_common.events.base import EventPayload
from eci_common.idempotency import IdempotencyRecord
from eci_common.kafka import RecordPublisher
from eci_common.logging import get_logger
from eci_common.metrics import Metrics
from eci_common.mongo import is_database_unavailable
from eci_common.segment_roll import is_segment_roll_marker
from eci_common.settings import ConsumerSettings

P = TypeVar("P", bound=EventPayload)
Handler = Callable[[Event[P]], Awaitable[None]]


def is_transient(exc: BaseException) -> bool:
    """The world is briefly wrong (broker or database unreachable): retry without limit."""
    return isinstance(exc, TransientError | KafkaError) or is_database_unavailable(exc)


def _retryable(exc: BaseException) -> bool:
    # Never a cancellation (BaseException): the process is stopping.
    return isinstance(exc, Exception) and not isinstance(exc, PermanentError)


log = get_logger(__name__)

# The topics whose contracts we know: a known type read from one of them must be its own. Other
# topics (a test's, a tool's) carry whatever their user puts there.
_OUR_TOPICS = topics.PUBLIC_TOPICS | topics.INTERNAL_TOPICS
# What a dead letter keeps of a record too large to be dead-lettered whole.
_KEPT_WHEN_TOO_LARGE = 256
_CLOUDEVENTS_HEADERS = frozenset(
    {"content-type", *(f"{HEADER_PREFIX}{name}" for name in EventMetadata.model_fields)}
)


@dataclass(frozen=True, slots=True)
class ReceivedRecord:
    """A record as read from Kafka, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    body: bytes

    @property
    def size(self) -> int:
        """Bytes of body and headers, as the broker carried them (near enough for a limit)."""
        return len(self.body) + sum(
            len(name.encode()) + len(value.encode()) for name, value in self.headers.items()
        )


def _header_text(value: bytes | None) -> str:
    # A null or binary header is kept readable (escaped) rather than refused: only the CloudEvents
    # attributes are validated, and a dead letter shows what came.
    return "" if value is None else value.decode(errors="backslashreplace")


def received(raw: "ConsumerRecord[bytes, bytes]") -> ReceivedRecord:
    """The library-independent view of an aiokafka record; never fails, whatever it holds."""
    return ReceivedRecord(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key.decode(errors="replace") if raw.key is not None else None,
        headers={name: _header_text(value) for name, value in raw.headers},
        body=raw.value or b"",
    )


def _utf8(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


async def _tolerant_parse_batch(
    raw: "tuple[ConsumerRecord[bytes, bytes], ...]",
    original: Callable[[Any], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's batch parser, given copies without the headers it cannot decode; the message
    keeps the original records, which `received` reads."""
    readable = tuple(
        dataclasses.replace(record, headers=[(n, v) for n, v in record.headers if _utf8(v)])
        for record in raw
    )
    message = await original(readable)
    message.raw_message = raw
    return message


async def _raw_body(message: StreamMessage[Any]) -> Any:
    """No decoding by FastStream: `read_payload` validates each body against its contract."""
    return message.body


@dataclass(slots=True)
class _Batch:
    """The events of one batch handled so far, whose idempotency records are not yet written."""

    handled: list[EventMetadata] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)

    def add(self, meta: EventMetadata) -> None:
        self.handled.append(meta)
        self.keys.add((meta.source, meta.id))

    def has(self, meta: EventMetadata) -> bool:
        return (meta.source, meta.id) in self.keys


@dataclass(frozen=True, slots=True)
class _Route(Generic[P]):
    model: type[P]
    handler: Handler[P]

    async def __call__(self, meta: EventMetadata, body: bytes) -> None:
        await self.handler(Event(meta=meta, data=read_payload(self.model, body)))


class EventConsumer:
    """One consumer group of one service: its handlers and the rules around them."""

    def __init__(
        self,
        *,
        group: str,
        processed: IdempotencyRecord,
        dead_letters: RecordPublisher,
        dead_letter_topic: str,
        settings: ConsumerSettings,
        metrics: Metrics | None = None,
    ) -> None:
        self.group = group
        self._metrics = metrics
        self.subscribers: list[Any] = []  # FastStream subscribers, for lag
        self._processed = processed
        self._dead_letters = dead_letters
        self._dead_letter_topic = dead_letter_topic
        self._settings = settings
        self._routes: dict[str, _Route[Any]] = {}

    def on(self, model: type[P]) -> Callable[[Handler[P]], Handler[P]]:
        """Registers the handler of one event type and version."""

        def register(handler: Handler[P]) -> Handler[P]:
            self._routes[model.event_type] = _Route(model, handler)
            return handler

        return register

    def subscribe(self, broker: KafkaBroker, *topics: str) -> None:
        """Attaches this consumer to a broker, committing manually after each batch."""

        subscriber = broker.subscriber(
            *topics,
            group_id=self.group,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            batch=True,
            max_records=self._settings.consumer_batch_max_records,
            batch_timeout_ms=self._settings.consumer_batch_wait_ms,
            parser=_tolerant_parse_batch,
            decoder=_raw_body,
            no_reply=True,
        )
        self.subscribers.append(subscriber)

        @subscriber
        async def consume(message: KafkaMessage) -> None:
            raw = message.raw_message
            batch = raw if isinstance(raw, tuple) else (raw,)
            try:
                await self.process_batch([received(record) for record in batch])
            except BaseException:
                # Not even a dead letter could be written, or the process is stopping: read the
                # batch again rather than let a later commit skip a record of it.
                await message.nack()
                raise
            await message.ack()

    async def process(self, record: ReceivedRecord) -> None:
        """Handles one record; returns once it is safe to commit its offset."""
        await self.process_batch([record])

    async def process_batch(self, records: Sequence[ReceivedRecord]) -> None:
        """Handles records in order, then remembers the handled events in one write; returns
        once it is safe to commit the offsets of all of them."""
        batch = _Batch()
        try:
            for record in records:
                await self._process_one(record, batch)
        except BaseException:
            # Keep what was done, once and without retrying (the database may be the reason),
            # so that the redelivery skips it; the handlers' idempotence covers a failure here.
            with contextlib.suppress(Exception):
                await self._processed.record(self.group, batch.handled)
            raise
        await self._retrying(lambda: self._processed.record(self.group, batch.handled))

    async def _process_one(self, record: ReceivedRecord, batch: _Batch) -> None:
        started = time.perf_counter()
        try:
            outcome, event_type = await self._process(record, batch)
        except Exception as exc:  # noqa: BLE001 - whatever a record causes, it is dead-lettered
            await self._dead_letter(record, exc, attempts=1)
            outcome, event_type = "dead_lettered", "unexpected"
        if self._metrics is not None:
            labels = (self._metrics.service, self.group, event_type, outcome)
            self._metrics.consumed.labels(*labels).inc()
            if outcome == "handled":
                self._metrics.handler_seconds.labels(self._metrics.service, event_type).observe(
                    time.perf_counter() - started
                )

    async def _process(self, record: ReceivedRecord, batch: _Batch) -> tuple[str, str]:  # noqa: PLR0911 - one return per outcome
        structlog.contextvars.unbind_contextvars(
            "correlation_id", "causation_id", "event_id", "event_type"
        )
        limit = self._settings.consumer_max_record_bytes
        if record.size > limit:
            too_large = MalformedEvent(
                f"record of {record.size} bytes exceeds the limit of {limit} bytes"
            )
            await self._dead_letter(record, too_large, attempts=1)
            return "dead_lettered", "too_large"
        if is_segment_roll_marker(record.key, record.headers, record.body):
            return "ignored", "segment_roll"
        try:
            meta = read_metadata(record.headers)
        except MalformedEvent as exc:
            await self._dead_letter(record, exc, attempts=1)
            return "dead_lettered", "malformed"
        structlog.contextvars.bind_contextvars(
            correlation_id=meta.correlationid,
            causation_id=meta.id,
            event_id=meta.id,
            event_type=meta.type,
        )
        if catalog.is_known(meta.type) and record.topic in _OUR_TOPICS:
            expected = catalog.model_for(meta.type).topic
            if expected != record.topic:
                misplaced = MalformedEvent(
                    f"event type {meta.type!r} travels on {expected!r}, not on {record.topic!r}"
                )
                await self._dead_letter(record, misplaced, attempts=1)
                return "dead_lettered", meta.type
        route = self._routes.get(meta.type)
        if route is None:
            if catalog.is_known(meta.type):
                return "ignored", meta.type  # another consumer's business
            unknown = UnknownEventType(f"no contract for event type {meta.type!r}")
            await self._dead_letter(record, unknown, attempts=1)
            return "dead_lettered", "unknown"
        if batch.has(meta) or await self._retrying(lambda: self._processed.seen(self.group, meta)):
            log.info("event_duplicate_skipped", topic=record.topic, offset=record.offset)
            return "duplicate", meta.type
        handling = self._retry_policy(
            retry=tenacity.retry_if_exception(_retryable), stop=self._handler_stop
        )
        try:
            async for attempt in handling:
                with attempt:
                    await route(meta, record.body)
        except Exception as exc:  # noqa: BLE001 - permanent, or out of attempts: dead-lettered
            await self._dead_letter(record, exc, attempts=handling.statistics["attempt_number"])
            return "dead_lettered", meta.type
        attempts = handling.statistics["attempt_number"]
        batch.add(meta)
        log.info("event_handled", topic=record.topic, offset=record.offset, attempts=attempts)
        return "handled", meta.type

    async def _retrying(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        """Runs `operation` until it succeeds; only transient errors are retried, forever."""
        retrying = self._retry_policy(
            retry=tenacity.retry_if_exception(is_transient), stop=tenacity.stop_never
        )
        async for attempt in retrying:
            with attempt:
                return await operation()
        raise AssertionError("unreachable: tenacity stops only by raising")  # pragma: no cover

    def _retry_policy(
        self, *, retry: tenacity.retry_base, stop: tenacity.stop.StopBaseT
    ) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(
            retry=retry,
            stop=stop,
            wait=tenacity.wait_exponential(
                multiplier=self._settings.consumer_backoff_initial_s,
                max=self._settings.consumer_backoff_max_s,
            ),
            before_sleep=self._before_sleep,
            sleep=asyncio.sleep,
            reraise=True,
        )

    def _handler_stop(self, state: tenacity.RetryCallState) -> bool:
        """A transient failure never stops the retries; any other stops them after
        `consumer_max_attempts` attempts."""
        failure = state.outcome.exception() if state.outcome is not None else None
        if failure is not None and is_transient(failure):
            return False
        return state.attempt_number >= self._settings.consumer_max_attempts

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        transient = failure is not None and is_transient(failure)
        log.warning(
            "event_retry",
            # The class only: a database's message names hosts and may quote the request.
            error_type=type(failure).__name__,
            transient=transient,
            attempts=state.attempt_number,
            retry_in_s=round(state.upcoming_sleep, 3),
        )
        if self._metrics is not None:
            kind = "transient" if transient else "error"
            self._metrics.retried.labels(self._metrics.service, self.group, kind).inc()

    async def _dead_letter(self, record: ReceivedRecord, exc: BaseException, attempts: int) -> None:
        headers = {
            **record.headers,
            "dlq_reason": str(exc)[:2000],
            "dlq_error_type": type(exc).__name__,
            "dlq_permanent": str(isinstance(exc, PermanentError)).lower(),
            "dlq_group": self.group,
            "dlq_attempts": str(attempts),
            "dlq_original_topic": record.topic,
            "dlq_original_partition": str(record.partition),
            "dlq_original_offset": str(record.offset),
            "dlq_failed_at": datetime.now(UTC).isoformat(),
        }
        letter = KafkaRecord(
            topic=self._dead_letter_topic,
            key=record.key or "",
            headers=headers,
            body=record.body,
        )
        await self._retrying(lambda: self._publish_letter(letter))
        log.error(
            "event_dead_lettered",
            reason=str(exc)[:500],
            error_type=type(exc).__name__,
            topic=record.topic,
            offset=record.offset,
            attempts=attempts,
        )

    async def _publish_letter(self, letter: KafkaRecord) -> None:
        try:
            await self._dead_letters.publish(letter)
        except MessageSizeTooLargeError:
            # Retrying cannot help. Keep why and where from, and the CloudEvents attributes cut
            # short: enough to find the record on its original topic while retention lasts.
            kept = {
                name: value if name.startswith(DLQ_PREFIX) else value[:_KEPT_WHEN_TOO_LARGE]
                for name, value in letter.headers.items()
                if name.startswith(DLQ_PREFIX) or name in _CLOUDEVENTS_HEADERS
            }
            kept["dlq_body_omitted_bytes"] = str(len(letter.body))
            await self._dead_letters.publish(dataclasses.replace(letter, headers=kept, body=b""))
