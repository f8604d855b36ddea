"""Transactional outbox for a database without multi-document transactions.

A state change and the events it causes are written in one single-document write: the events
ride in the aggregate's own document, in an `outbox` array, in the order they happened. The relay
works in rounds of up to `outbox_batch_size` documents: it finds documents with pending events,
claims them with a lease (so that two relays never publish the same document at once), queues
every pending event of every claimed document with the producer, each document's in order, waits
for all the acknowledgements (`acks=all`) together, then pulls out of each document exactly the
events acknowledged, up to its first one that was not, and drops the leases. A crash between
publishing and pulling republishes them: delivery is at least once, and consumers deduplicate on
the CloudEvents `source` + `id`.

Every write of the relay to an aggregate (claim, release) holds that document's lock
(`eci_common.locks`): FerretDB applies an update as a read then a whole-document replace, so an
unlocked relay write racing a service write could drop the service's change or a new outbox
entry. Reads (the search and the re-read of what was claimed) take no lock.
"""

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from eci_common.envelope import Event, KafkaRecord, to_record
from eci_common.events.base import EventPayload
from eci_common.kafka import RecordPublisher
from eci_common.locks import DocumentLocks
from eci_common.logging import get_logger
from eci_common.metrics import Metrics
from eci_common.mongo import Collection, Document
from eci_common.outbox_sending import Deliveries, RecordSender, sender_for
from eci_common.settings import OutboxSettings

OUTBOX = "outbox"
LEASE_UNTIL = "outbox_lease_until"
LEASE_OWNER = "outbox_lease_owner"
IDLE_POLL_MAX_S = 5.0
# A release pulls the acknowledged entries of many documents in one update; past this many bytes
# of entries it is split, so that no command nears MongoDB's 16 MiB limit whatever the outboxes.
RELEASE_MAX_BYTES = 4 * 1024 * 1024

log = get_logger(__name__)


def outbox_entries(events: Iterable[Event[EventPayload]]) -> list[Document]:
    """The stored form of events: exactly the Kafka records the relay will send."""
    entries = []
    for event in events:
        record = to_record(event)
        entries.append(
            {
                "id": event.meta.id,
                "topic": record.topic,
                "key": record.key,
                "headers": record.headers,
                "body": record.body.decode(),
            }
        )
    return entries


def outbox_push(events: Sequence[Event[EventPayload]]) -> Document:
    """The `$push` clause that appends events to an aggregate's outbox in the same update."""
    return {OUTBOX: {"$each": outbox_entries(events)}}


def _record(entry: Document) -> KafkaRecord:
    return KafkaRecord(
        topic=entry["topic"],
        key=entry["key"],
        headers=dict(entry["headers"]),
        body=entry["body"].encode(),
    )


async def ensure_outbox_indexes(collection: Collection) -> None:
    """The relay looks up documents that still hold events."""
    await collection.create_index([(f"{OUTBOX}.id", 1)], name="outbox_pending")


class OutboxRelay:
    """Publishes the pending events of a service's aggregates, in order per aggregate."""

    def __init__(
        self,
        collections: Sequence[Collection],
        publisher: RecordPublisher | RecordSender,
        settings: OutboxSettings,
        locks: DocumentLocks,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._collections = collections
        self._locks = locks
        self._sender = sender_for(publisher)
        self._settings = settings
        self._owner = str(uuid.uuid4())
        self._wakeup = asyncio.Event()
        # One round at a time per relay: a relay may then take back its own leases at once.
        self._draining = asyncio.Lock()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def wake(self) -> None:
        """Called after a write that added events, so they leave without waiting for the poll."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, grace_s: float) -> None:
        """Finishes the batch in hand, drains what is pending if it can, then stops."""
        self._stopping = True
        self._wakeup.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            log.warning("outbox_relay_stop_timeout", grace_s=grace_s)

    async def _run(self) -> None:
        failures = 0
        idle = self._settings.outbox_poll_interval_s
        while True:
            try:
                sent = await self.drain()
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any outage
                failures += 1
                delay = min(self._settings.outbox_poll_interval_s * 2**failures, 10.0)
                log.warning("outbox_relay_failed", error=repr(exc), retry_in_s=delay)
                if self._stopping:
                    return
                await asyncio.sleep(delay)
                continue
            if self._stopping:
                return
            # Writers ring `wake`; the poll only finds what a crash or an outage left behind.
            # Finding a pending document is a scan on FerretDB, so an idle relay polls less and
            # less often, up to IDLE_POLL_MAX_S, and a found event brings the interval back.
            idle = (
                self._settings.outbox_poll_interval_s
                if sent
                else min(idle * 2, max(IDLE_POLL_MAX_S, self._settings.outbox_poll_interval_s))
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), idle)
            self._wakeup.clear()

    async def drain(self) -> int:
        """Publishes every pending event once; returns how many were sent."""
        sent = 0
        async with self._draining:
            for collection in self._collections:
                while documents := await self._claim_batch(
                    collection, self._settings.outbox_batch_size
                ):
                    sent += await self._publish(collection, documents)
        return sent

    async def backlog(self) -> int:
        """How many events wait in outboxes (for readiness and metrics)."""
        total = 0
        for collection in self._collections:
            async for doc in collection.find({f"{OUTBOX}.0": {"$exists": True}}, {OUTBOX: 1}):
                total += len(doc[OUTBOX])
        return total

    def _claimable(self, now: datetime) -> Document:
        # A document with pending events and no lease, an expired one, or one of ours that a
        # failed round left behind (rounds of one relay never overlap: `_draining`).
        return {
            f"{OUTBOX}.0": {"$exists": True},
            "$or": [
                {LEASE_UNTIL: None},
                {LEASE_UNTIL: {"$lt": now}},
                {LEASE_OWNER: self._owner},
            ],
        }

    async def _claim(self, collection: Collection) -> Document | None:
        """Claims one document (the first claimable), or None when there is none."""
        claimed = await self._claim_batch(collection, 1)
        return claimed[0] if claimed else None

    async def _claim_batch(self, collection: Collection, limit: int) -> list[Document]:
        """Claims up to `limit` documents with pending events and returns them as they are under
        the lease, oldest first; an empty list when nothing is left to claim."""
        while True:
            now = datetime.now(UTC)
            claimable = self._claimable(now)
            # One search (a scan on FerretDB), then one conditional update for the whole batch,
            # which MongoDB applies atomically per document: of two relays, one gets each.
            found = await collection.find(claimable, {"_id": 1}).limit(limit).to_list()
            if not found:
                return []
            ids = [doc["_id"] for doc in found]
            lease = {
                LEASE_UNTIL: now + timedelta(seconds=self._settings.outbox_lease_s),
                LEASE_OWNER: self._owner,
            }
            async with self._hold(collection, ids):
                await collection.update_many({"_id": {"$in": ids}, **claimable}, {"$set": lease})
            # Read again what the lease now covers: events appended since the search are in it,
            # and a document another relay claimed first is not.
            claimed = await collection.find(
                {"_id": {"$in": ids}, LEASE_OWNER: self._owner}
            ).to_list()
            if claimed:
                position = {doc_id: index for index, doc_id in enumerate(ids)}
                return sorted(claimed, key=lambda doc: position[doc["_id"]])
            # Another relay took every candidate between the search and the claim: search again.

    async def _publish(self, collection: Collection, documents: list[Document]) -> int:
        deliveries = Deliveries(len(documents))
        try:
            records = [[_record(entry) for entry in doc[OUTBOX]] for doc in documents]
            await deliveries.send(self._sender, records)
            await deliveries.wait()
        finally:
            # Also when cancelled or failed: what was acknowledged is pulled, the rest stays for
            # the next round, and the leases go either way.
            confirmed = deliveries.confirmed()
            sent = [
                (doc["_id"], doc[OUTBOX][:count])
                for doc, count in zip(documents, confirmed, strict=True)
            ]
            await self._release(collection, sent)
        published = [entry for _, entries in sent for entry in entries]
        self._count(published)
        log.debug(
            "outbox_published",
            collection=collection.name,
            documents=len(documents),
            events=len(published),
        )
        error = deliveries.error()
        if error is not None:
            raise error
        return len(published)

    async def _release(
        self, collection: Collection, sent: Sequence[tuple[Any, list[Document]]]
    ) -> None:
        """Pulls the acknowledged entries of each document and drops its lease, in as few
        updates as the size of the entries allows. Only documents still leased by this relay are
        touched: a lease that expired and passed to another relay is that relay's to drop."""
        for chunk in _chunks(sent, RELEASE_MAX_BYTES):
            ids = [doc_id for doc_id, _ in chunk]
            # $pullAll of the exact entries read: FerretDB v1 ignores a $pull by condition.
            # Each entry (with its event id) is in one document only, so one list pulls every
            # document's own entries; events appended meanwhile are different entries and stay.
            pulled = [entry for _, entries in chunk for entry in entries]
            update: Document = {"$unset": {LEASE_UNTIL: "", LEASE_OWNER: ""}}
            if pulled:
                update["$pullAll"] = {OUTBOX: pulled}
            async with self._hold(collection, ids):
                await collection.update_many(
                    {"_id": {"$in": ids}, LEASE_OWNER: self._owner}, update
                )

    @contextlib.asynccontextmanager
    async def _hold(self, collection: Collection, ids: Sequence[Any]) -> AsyncIterator[None]:
        """The locks of several documents, taken in one global order: two relays of a process
        never wait on each other in a cycle, and a service writer holds one lock at a time."""
        async with contextlib.AsyncExitStack() as stack:
            for doc_id in sorted(ids, key=repr):
                await stack.enter_async_context(self._locks.hold(collection.name, doc_id))
            yield

    def _count(self, published: Sequence[Document]) -> None:
        self.published += len(published)
        if self._metrics is not None:
            for topic, count in Counter(entry["topic"] for entry in published).items():
                self._metrics.published.labels(self._metrics.service, topic).inc(count)


def _chunks(
    sent: Sequence[tuple[Any, list[Document]]], max_bytes: int
) -> Iterable[Sequence[tuple[Any, list[Document]]]]:
    """Consecutive runs of documents whose entries weigh at most `max_bytes` together (a run
    has at least one document, however large)."""
    start, weight = 0, 0
    for index, (_, entries) in enumerate(sent):
        size = sum(len(entry["body"]) + len(str(entry["headers"])) for entry in entries)
        if size and index > start and weight + size > max_bytes:
            yield sent[start:index]
            start, weight = index, 0
        weight += size
    if start < len(sent):
        yield sent[start:]
