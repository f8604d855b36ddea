"""How the outbox relay sends a batch: every record queued in order, then the acknowledgements
gathered, then, per document, how many of its leading records the broker acknowledged.

`send` returns once the record is in the producer's queue (aiokafka's accumulator), not once it is
acknowledged. Records queued one after the other by one coroutine keep that order in the queue;
the records of one key go to one partition; aiokafka sends at most one request per partition at a
time and, with `enable_idempotence=True`, retries a failed request with the same sequence numbers
and never expires one in flight. So the order per key on the topic is the order of the calls,
acknowledgements can be awaited together, and no record waits for the previous one's round trip.

A document's records count as published only up to its first record that was not acknowledged:
the relay pulls that prefix and no more, so an event is never pulled while an earlier one of the
same document waits for the next round. What pipelining cannot rule out: aiokafka fails a batch
for good only when it is still queued after `request_timeout_ms` without a partition leader, or
when the broker refuses it for good; a later batch of the same partition may then succeed, and
the failed events reach the topic after it, when the next round sends them again (with the later
ones, again). Consumers' deduplication and version guards absorb that, as they absorb any
republished event; sending one record at a time (the relay before batching) ruled it out.
"""

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from faststream.kafka import KafkaBroker

from eci_common.envelope import KafkaRecord
from eci_common.kafka import BrokerPublisher, RecordPublisher

Acknowledgement = asyncio.Future[Any]


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
        return await self._broker.publish(
            record.body,
            record.topic,
            key=record.key.encode(),
            headers=record.headers,
            correlation_id=record.headers.get("ce_correlationid"),
            no_confirm=True,
        )


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


class Deliveries:
    """The records of a batch of documents, queued in order, and what became of each."""

    def __init__(self, documents: int) -> None:
        self._acks: list[list[Acknowledgement]] = [[] for _ in range(documents)]
        self._refused: BaseException | None = None

    async def send(self, sender: RecordSender, documents: Sequence[Sequence[KafkaRecord]]) -> None:
        """Queues every record, document after document. Stops at the first record the sender
        refuses (broker unreachable for metadata, record too large): later records, of this
        document or of the next ones, are not queued, and the error is kept for `error`."""
        for records, acks in zip(documents, self._acks, strict=True):
            for record in records:
                try:
                    acks.append(await sender.send(record))
                except Exception as exc:  # noqa: BLE001 - kept, raised once the batch is settled
                    self._refused = exc
                    return

    async def wait(self) -> None:
        """Until every queued record is acknowledged or failed. `asyncio.wait`, not `gather`:
        cancelling the relay must not cancel the futures, whose outcome the release reads."""
        pending = [ack for acks in self._acks for ack in acks]
        if pending:
            await asyncio.wait(pending)

    def confirmed(self) -> list[int]:
        """Per document (in the order given to `send`), how many leading records the broker
        acknowledged; a document that was not reached (or not sent at all) counts 0."""
        counts = []
        for acks in self._acks:
            count = 0
            for ack in acks:
                if not ack.done() or ack.cancelled() or ack.exception() is not None:
                    break
                count += 1
            counts.append(count)
        return counts

    def error(self) -> BaseException | None:
        """The first reason a record was not published: refused when queued, else the first
        failed acknowledgement; None when every record was acknowledged."""
        if self._refused is not None:
            return self._refused
        for acks in self._acks:
            for ack in acks:
                if ack.done() and not ack.cancelled() and ack.exception() is not None:
                    return ack.exception()
        return None
