"""Transactional outbox for a database without multi-document transactions.

A state change and the events it causes are written in one single-document write: the events
ride in the aggregate's own document, in an `outbox` array, in the order they happened. The relay
works in rounds of up to `outbox_batch_size` documents: it claims documents with pending events
with a lease (so that two relays never publish the same document at once), queues every pending
event of every claimed document with the producer, each document's in order, waits for all the
acknowledgements (`acks=all`) together, then pulls out of each document exactly the events
acknowledged, up to its first one that was not, and drops the leases. A crash between publishing
and pulling republishes them: delivery is at least once, and consumers deduplicate on the
CloudEvents `source` + `id`.

Which documents a round claims: a writer that knows the aggregate it wrote rings `wake(id)`, and
the next round claims exactly those ids; a plain `wake()`, the poll, the first round and at least
one round every `FULL_SEARCH_EVERY_S` search the collections for every document with pending
events (what a crash, an outage or another relay's expired lease left behind). A small round
claims and releases its documents with one command per document, by `_id`, run concurrently:
FerretDB hands an equality on `_id` to its storage but evaluates `$in` and `$exists` itself on
every document, so such a round costs in proportion to its documents, not to the collection. A
round of `BULK_FROM` documents or more uses one conditional `update_many` to claim (then one
read of what it got) and one to release, each reading the collection once.

Every relay write to an aggregate (claim, release) holds that document's lock
(`eci_common.locks`): FerretDB applies an update as a read then a whole-document replace, so an
unlocked relay write racing a service write could drop the service's change or a new outbox
entry. Reads (the search) take no lock.
"""

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

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
# While writers' wakes name their documents, the relay still searches this often for documents
# nobody named (left by a crash, an outage, a failed round, another relay).
FULL_SEARCH_EVERY_S = 30.0
# Claims and releases of one round in flight at once.
CONCURRENT_WRITES = 16
# From this many documents a round claims and releases them with one `update_many` each: on
# FerretDB a filter on `$in` reads the whole collection once, which beats that many commands by
# `_id` for a large round and loses to them for a small one (bench/README.md, section 2).
BULK_FROM = 16
# A bulk release pulls the acknowledged entries of many documents in one update; past this many
# bytes of entries it is split, so that no command nears MongoDB's 16 MiB limit.
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
        # Ids named by writers since the last round (insertion-ordered), and whether a writer
        # asked for a search.
        self._hinted: dict[Any, None] = {}
        self._search_wanted = True
        self._searched_at = time.monotonic()
        self._writes = asyncio.Semaphore(CONCURRENT_WRITES)
        # One round at a time per relay: a relay may then take back its own leases at once.
        self._draining = asyncio.Lock()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def wake(self, *ids: Any) -> None:
        """Called after a write that added events, so they leave without waiting for the poll:
        with the ids of the documents written, the next round claims just those; without, it
        searches every collection."""
        if ids:
            self._hinted.update(dict.fromkeys(ids))
        else:
            self._search_wanted = True
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
                sent, searched = await self._round()
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any outage
                failures += 1
                self._search_wanted = True  # what the failed round held is found again
                delay = min(self._settings.outbox_poll_interval_s * 2**failures, 10.0)
                log.warning("outbox_relay_failed", error=repr(exc), retry_in_s=delay)
                if self._stopping:
                    return
                await asyncio.sleep(delay)
                continue
            if self._stopping:
                return
            if self._hinted or self._search_wanted:
                continue  # rung during the round
            # Writers ring `wake`; the poll only finds what a crash or an outage left behind.
            # Finding a pending document is a scan on FerretDB, so an idle relay polls less and
            # less often, up to IDLE_POLL_MAX_S, and a search that found events brings the
            # interval back (rounds on named ids leave it as it is).
            idle = (
                self._settings.outbox_poll_interval_s
                if sent and searched
                else min(idle * 2, max(IDLE_POLL_MAX_S, self._settings.outbox_poll_interval_s))
            )
            with contextlib.suppress(TimeoutError):  # the poll: a round without ids searches
                await asyncio.wait_for(self._wakeup.wait(), idle)

    async def _round(self) -> tuple[int, bool]:
        """A search of every collection when one is wanted or due, else the named ids only;
        how many events were sent, and whether it searched."""
        self._wakeup.clear()  # what rings from now on is for the next round
        due = time.monotonic() - self._searched_at >= FULL_SEARCH_EVERY_S
        if self._search_wanted or due or not self._hinted:
            self._search_wanted = False
            self._hinted.clear()
            self._searched_at = time.monotonic()
            return await self._search(until_empty=False), True
        ids = list(self._hinted)
        self._hinted.clear()
        try:
            return await self.drain_ids(ids), False
        except BaseException:
            self._hinted.update(dict.fromkeys(ids))  # named again for the next round
            raise

    async def drain(self) -> int:
        """Publishes every pending event once, searching until nothing is left; returns how many
        were sent."""
        return await self._search(until_empty=True)

    async def _search(self, *, until_empty: bool) -> int:
        """Claims and publishes what the searches find, batch after batch. The relay's own
        rounds stop after a search that found less than a batch, which was everything pending
        when it ran: under a steady load every search finds the few documents written while the
        last one ran, and searching again each time would make every event wait for a scan of
        the collection, while the writers name those documents for the next round anyway."""
        sent = 0
        limit = self._settings.outbox_batch_size
        async with self._draining:
            for collection in self._collections:
                while documents := await self._claim_batch(collection, limit):
                    sent += await self._publish(collection, documents)
                    if not until_empty and len(documents) < limit:
                        break
        return sent

    async def drain_ids(self, ids: Sequence[Any]) -> int:
        """Publishes the pending events of these documents, in whichever of the relay's
        collections they are; returns how many were sent."""
        sent = 0
        size = self._settings.outbox_batch_size
        async with self._draining:
            for collection in self._collections:
                for start in range(0, len(ids), size):
                    documents = await self._claim_ids(collection, ids[start : start + size])
                    if documents:
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
            # One search (it reads the whole collection on FerretDB), then one claim per found
            # document, which holds it against every other relay until the lease ends.
            found = (
                await collection.find(self._claimable(datetime.now(UTC)), {"_id": 1})
                .limit(limit)
                .to_list()
            )
            if not found:
                return []
            claimed = await self._claim_ids(collection, [doc["_id"] for doc in found])
            if claimed:
                return claimed
            # Another relay took every candidate between the search and the claim: search again.

    async def _claim_ids(self, collection: Collection, ids: Sequence[Any]) -> list[Document]:
        """Claims each of these documents that has pending events and no live lease, and returns
        the claimed ones in the order given, as they are under the lease (events appended since
        the search are in it)."""
        now = datetime.now(UTC)
        claimable = self._claimable(now)
        lease = {
            "$set": {
                LEASE_UNTIL: now + timedelta(seconds=self._settings.outbox_lease_s),
                LEASE_OWNER: self._owner,
            }
        }
        if len(ids) >= BULK_FROM:
            # One conditional update, which MongoDB applies atomically per document: of two
            # relays, one gets each. Then one read of what the lease now covers.
            async with self._hold(collection, ids):
                await collection.update_many({"_id": {"$in": list(ids)}, **claimable}, lease)
            mine = await collection.find(
                {"_id": {"$in": list(ids)}, LEASE_OWNER: self._owner}
            ).to_list()
            position = {doc_id: index for index, doc_id in enumerate(ids)}
            return sorted(mine, key=lambda doc: position[doc["_id"]])

        async def claim(doc_id: Any) -> Document | None:
            # Conditional and atomic per document on MongoDB: of two relays, one gets it.
            found: Document | None = await collection.find_one_and_update(
                {"_id": doc_id, **claimable}, lease, return_document=ReturnDocument.AFTER
            )
            return found

        claimed = await self._each(collection, ids, claim)
        return [doc for doc in claimed if doc is not None]

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
        """Pulls the acknowledged entries of each document and drops its lease, one update per
        document. Only documents still leased by this relay are touched: a lease that expired
        and passed to another relay is that relay's to drop."""
        if len(sent) >= BULK_FROM:
            await self._release_bulk(collection, sent)
            return
        pulled = dict(sent)

        async def release(doc_id: Any) -> None:
            # $pullAll of the exact entries read: FerretDB v1 ignores a $pull by condition.
            # Events appended meanwhile are different entries and stay.
            update: Document = {"$unset": {LEASE_UNTIL: "", LEASE_OWNER: ""}}
            if pulled[doc_id]:
                update["$pullAll"] = {OUTBOX: pulled[doc_id]}
            await collection.update_one({"_id": doc_id, LEASE_OWNER: self._owner}, update)

        await self._each(collection, list(pulled), release)

    async def _release_bulk(
        self, collection: Collection, sent: Sequence[tuple[Any, list[Document]]]
    ) -> None:
        """As `_release`, in as few updates as the size of the entries allows."""
        for chunk in _chunks(sent, RELEASE_MAX_BYTES):
            ids = [doc_id for doc_id, _ in chunk]
            # Each entry (with its event id) is in one document only, so one list pulls every
            # document's own entries.
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

    async def _each(
        self,
        collection: Collection,
        ids: Sequence[Any],
        write: Callable[[Any], Awaitable[Any]],
    ) -> list[Any]:
        """`write(id)` for every id, concurrently up to CONCURRENT_WRITES, each under its
        document's lock (one lock at a time per task: no cycle with the service writers); the
        results in the order of `ids`. Every write is awaited, whatever fails; then the first
        failure is raised."""

        async def locked(doc_id: Any) -> Any:
            async with self._writes, self._locks.hold(collection.name, doc_id):
                return await write(doc_id)

        results = await asyncio.gather(*(locked(doc_id) for doc_id in ids), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

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
