"""How the outbox relay sends a round: at most one unacknowledged record per document (per
aggregate, hence per key) at a time, the records of different documents pipelined; and which
refusals are for good (the entry is quarantined) or passing (the entry waits for the next round).

Order per key. A document's next record is handed to the producer only once the broker has
acknowledged the previous one; a record that failed ends the document's part of the round, and
the next round starts after every acknowledgement of this one is in. So no later event of an
aggregate is ever in the producer while an earlier one is unacknowledged, and aiokafka cannot put
it on the topic first, whatever it does with a failed batch (a batch that expired in its queue
without a leader, or that the broker refused, is not written; a later batch of the partition may
be). A record that failed on the client's side yet reached the topic (an acknowledgement lost) is
sent again by the next round before the later ones: a duplicate, never an inversion, and
consumers deduplicate. Documents are sent side by side, each as a chain of record then
acknowledgement: records of different keys are in the producer together (aiokafka batches them)
and no record waits for another key's round trip, nor for a slow partition of another key. A
document with n pending events takes n round trips.

Permanent refusals: aiokafka's errors that no retry can cure (record too large, topic not
authorised, invalid topic, policy), a topic that does not exist (aiokafka's
`UnknownTopicOrPartitionError` after its metadata wait, confirmed by a metadata answer of the
broker that lists no such topic: a broker that cannot be reached is not a missing topic), and an
outbox entry that cannot be turned into a record. Everything else (broker down, no leader,
timeouts) is passing: the relay retries, without limit, and never quarantines.
"""

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    PolicyViolationError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    UnsupportedForMessageFormatError,
)
from faststream.kafka import KafkaBroker

from eci_common.envelope import KafkaRecord
from eci_common.kafka import BrokerPublisher, RecordPublisher

Acknowledgement = asyncio.Future[Any]


class RecordRefused(Exception):
    """The broker will never take this record as it is (a fix is needed first)."""


class CorruptEntry(RecordRefused):
    """An outbox entry that cannot be turned into a Kafka record."""


PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    RecordRefused,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
    InvalidTopicError,
    PolicyViolationError,
    CorruptRecordException,
    UnsupportedForMessageFormatError,
)


def refusal_reason(error: BaseException) -> str | None:
    """Why the record is refused for good, or None when the error is passing."""
    if isinstance(error, PERMANENT_ERRORS):
        return f"{type(error).__name__}: {error}"[:500]
    return None


@runtime_checkable
class RecordSender(Protocol):
    """Queues a record behind every record queued before it; the future completes when the
    broker has acknowledged it (or fails with the reason it was not)."""

    async def send(self, record: KafkaRecord) -> Acknowledgement: ...


class BrokerSender:
    """`RecordSender` over a FastStream broker: `publish(..., no_confirm=True)` returns aiokafka's
    delivery future once the record is queued. Same record mapping as `BrokerPublisher`."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        try:
            return await self._broker.publish(
                record.body,
                record.topic,
                key=record.key.encode(),
                headers=record.headers,
                correlation_id=record.headers.get("ce_correlationid"),
                no_confirm=True,
            )
        except UnknownTopicOrPartitionError as exc:
            # aiokafka raises it after its metadata wait both when the topic is missing and
            # when no broker answered: only a broker's answer without the topic is a refusal.
            if await self._topic_missing(record.topic):
                raise RecordRefused(f"topic {record.topic!r} does not exist") from exc
            raise

    async def _topic_missing(self, topic: str) -> bool:
        # FastStream does not expose its aiokafka producer; without it, nothing is concluded.
        state = getattr(getattr(self._broker, "_producer", None), "_producer", None)
        client = getattr(getattr(state, "producer", None), "client", None)
        if client is None:
            return False
        try:
            metadata = await client.fetch_all_metadata()
        except KafkaError:
            return False
        return bool(metadata.brokers()) and topic not in metadata.topics()


class AwaitingSender:
    """`RecordSender` over any `RecordPublisher`: each record is acknowledged before `send`
    returns, so nothing is pipelined (test doubles, wrapped publishers)."""

    def __init__(self, publisher: RecordPublisher) -> None:
        self._publisher = publisher

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        await self._publisher.publish(record)
        done: Acknowledgement = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def sender_for(publisher: RecordPublisher | RecordSender) -> RecordSender:
    """The pipelined sender behind a publisher when there is one, else one record at a time."""
    if isinstance(publisher, RecordSender):
        return publisher
    if isinstance(publisher, BrokerPublisher):
        # kafka.py does not expose the broker; BrokerPublisher.send would make this unnecessary.
        return BrokerSender(publisher._broker)
    return AwaitingSender(publisher)


def _failure(ack: Acknowledgement) -> BaseException | None:
    if ack.cancelled():
        return asyncio.CancelledError()
    return ack.exception()


class Deliveries:
    """The records of a round of documents, one in flight per document, and what became of each
    document: how many of its leading entries were acknowledged, which entry was refused for
    good (and why), and the first passing failure of the round."""

    def __init__(self, documents: Sequence[Sequence[Any]]) -> None:
        self._entries = documents
        self._sent = [0] * len(documents)
        self._in_flight: dict[int, Acknowledgement] = {}
        self._refused: dict[int, str] = {}
        self._stopped: set[int] = set()
        self._error: BaseException | None = None

    async def send(
        self,
        sender: RecordSender,
        to_record: Callable[[Any], KafkaRecord],
        may_send: Callable[[], bool] = lambda: True,
    ) -> None:
        """Every document's records, each document on its own: a record, its acknowledgement,
        the next, until the last, a refusal or a failure; the documents side by side. Before
        each record `may_send()` is asked (the relay's lease), and a False ends the document's
        part of the round. Cancelling it leaves the futures alone: `confirmed` still reads
        what they became."""
        going = [index for index, entries in enumerate(self._entries) if entries]
        await asyncio.gather(*(self._one(index, sender, to_record, may_send) for index in going))

    async def _one(
        self,
        index: int,
        sender: RecordSender,
        to_record: Callable[[Any], KafkaRecord],
        may_send: Callable[[], bool],
    ) -> None:
        entries = self._entries[index]
        while self._sent[index] < len(entries) and may_send():
            try:
                record = to_record(entries[self._sent[index]])
            except RecordRefused as exc:
                self._refused[index] = f"{type(exc).__name__}: {exc}"
                return
            try:
                ack = await sender.send(record)
            except Exception as exc:  # noqa: BLE001 - sorted, then raised by the relay
                self._settle(index, exc)
                return
            self._in_flight[index] = ack
            # `wait`, not `await ack`: cancelling the relay must not cancel the future.
            await asyncio.wait([ack])
            del self._in_flight[index]
            failure = _failure(ack)
            if failure is not None:
                self._settle(index, failure)
                return
            self._sent[index] += 1

    def _settle(self, index: int, failure: BaseException) -> None:
        reason = refusal_reason(failure)
        if reason is not None:
            self._refused[index] = reason
        else:
            self._stopped.add(index)
            if self._error is None:
                self._error = failure

    def confirmed(self) -> list[int]:
        """Per document (in the order given), how many leading entries the broker acknowledged,
        a record still in flight counting once it is acknowledged."""
        counts = list(self._sent)
        for index, ack in self._in_flight.items():
            if ack.done() and _failure(ack) is None:
                counts[index] += 1
        return counts

    def refused(self) -> dict[int, str]:
        """Document index -> why its next entry (after the confirmed ones) is refused for good."""
        return dict(self._refused)

    def error(self) -> BaseException | None:
        """The first passing reason a record was not published; None when there was none."""
        return self._error
