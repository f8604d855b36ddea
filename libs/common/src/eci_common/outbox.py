"""Transactional outbox for a database without multi-document transactions.

A state change and the events it causes are written in one single-document write: the events
ride in the aggregate's own document, in an `outbox` array, in the order they happened. The relay
works in rounds of up to `outbox_batch_size` documents: it claims documents with pending events
with a lease (so that two relays never publish the same document at once; renewed during the
round, judged without comparing clocks: `eci_common.outbox_lease`), sends each document's events
one at a time, the next once the previous one is acknowledged (`acks=all`), the documents side by
side (`eci_common.outbox_sending`), then pulls out of each document exactly the events
acknowledged, up to its first one that was not, and drops the leases. A crash between publishing
and pulling republishes them: delivery is at least once, and consumers deduplicate on the
CloudEvents `source` + `id`.

An entry the broker refuses for good (or that cannot be read) is moved to the document's
quarantine and the round goes on with every other document and collection; the later events of
that aggregate wait behind it until an operator resends it (`eci_common.outbox_quarantine`).
A passing failure (broker down) leaves the entry for the next round, retried without limit; the
other collections are still tried in the same round.

Which documents a round claims: a writer that knows the aggregate it wrote rings `wake(id)`, and
the next round claims exactly those ids; a plain `wake()`, the poll, the first round and at least
one round every `FULL_SEARCH_EVERY_S` search the collections for every document with pending
events (what a crash, an outage or another relay's expired lease left behind), and carry out the
operators' resend requests. How a round writes (per document or in bulk) is in
`eci_common.outbox_writes`.

Every relay write to an aggregate (claim, renewal, release, quarantine, resend) holds that
document's lock (`eci_common.locks`): FerretDB applies an update as a read then a whole-document
replace, so an unlocked relay write racing a service write could drop the service's change or a
new outbox entry. Reads (the search) take no lock.
"""

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from eci_common.envelope import Event, KafkaRecord, to_record
from eci_common.events.base import EventPayload
from eci_common.kafka import RecordPublisher
from eci_common.locks import DocumentLocks
from eci_common.logging import get_logger
from eci_common.metrics import Metrics
from eci_common.mongo import Collection, Document
from eci_common.outbox_lease import (
    LEASE_BEAT,
    LEASE_OWNER,
    LeaseWatch,
    Renewal,
    Token,
    token_of,
)
from eci_common.outbox_quarantine import OUTBOX, resend_requested
from eci_common.outbox_sending import CorruptEntry, Deliveries, RecordSender, sender_for
from eci_common.outbox_writes import RelayWrites
from eci_common.settings import OutboxSettings, check_lease, delivery_bound_s

IDLE_POLL_MAX_S = 5.0
# While writers' wakes name their documents, the relay still searches this often for documents
# nobody named (left by a crash, an outage, a failed round, another relay).
FULL_SEARCH_EVERY_S = 30.0
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


def _record(entry: Any) -> KafkaRecord:
    try:
        return KafkaRecord(
            topic=str(entry["topic"]),
            key=str(entry["key"]),
            headers={str(name): str(value) for name, value in dict(entry["headers"]).items()},
            body=entry["body"].encode(),
        )
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeError) as exc:
        raise CorruptEntry(f"the entry cannot be read as a record ({exc!r:.200})") from exc


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
        *,
        delivery_bound: float | None = None,
    ) -> None:
        """`delivery_bound`: the longest the producer takes to settle a record (by default that
        of the settings' `kafka_request_timeout_ms` when they have one, else of 30 s); the lease
        must outlast it (`check_lease`, a ValueError otherwise)."""
        request_timeout_ms = getattr(settings, "kafka_request_timeout_ms", 30_000)
        self._delivery_bound = (
            delivery_bound_s(request_timeout_ms) if delivery_bound is None else delivery_bound
        )
        check_lease(settings.outbox_lease_s, self._delivery_bound)
        self._metrics = metrics
        self._collections = collections
        self._locks = locks
        self._sender = sender_for(publisher)
        self._settings = settings
        self._owner = str(uuid.uuid4())
        self._watches = {
            collection.name: LeaseWatch(settings.outbox_lease_s) for collection in collections
        }
        self._claimed_at = time.monotonic()
        self.quarantined = 0
        self._wakeup = asyncio.Event()
        # Ids named by writers since the last round (insertion-ordered), and whether a writer
        # asked for a search.
        self._hinted: dict[Any, None] = {}
        self._search_wanted = True
        self._searched_at = time.monotonic()
        self._store = RelayWrites(self._owner, locks)
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
        failures: list[Exception] = []
        async with self._draining:
            await resend_requested(list(self._collections), self._locks)
            for collection in self._collections:
                try:
                    while documents := await self._claim_batch(collection, limit):
                        sent += await self._publish(collection, documents)
                        if not until_empty and len(documents) < limit:
                            break
                except Exception as exc:  # noqa: BLE001 - the next collections still go
                    failures.append(exc)
        if failures:
            raise failures[0]
        return sent

    async def drain_ids(self, ids: Sequence[Any]) -> int:
        """Publishes the pending events of these documents, in whichever of the relay's
        collections they are; returns how many were sent."""
        sent = 0
        size = self._settings.outbox_batch_size
        failures: list[Exception] = []
        async with self._draining:
            for collection in self._collections:
                try:
                    for start in range(0, len(ids), size):
                        self._claimed_at = time.monotonic()
                        documents = await self._store.claim_ids(
                            collection, ids[start : start + size]
                        )
                        if documents:
                            sent += await self._publish(collection, documents)
                except Exception as exc:  # noqa: BLE001 - the next collections still go
                    failures.append(exc)
        if failures:
            raise failures[0]
        return sent

    async def backlog(self) -> int:
        """How many events wait in outboxes (for readiness and metrics)."""
        total = 0
        for collection in self._collections:
            async for doc in collection.find({f"{OUTBOX}.0": {"$exists": True}}, {OUTBOX: 1}):
                total += len(doc[OUTBOX])
        return total

    async def _claim(self, collection: Collection) -> Document | None:
        """Claims one document (the first claimable), or None when there is none."""
        claimed = await self._claim_batch(collection, 1)
        return claimed[0] if claimed else None

    async def _claim_batch(self, collection: Collection, limit: int) -> list[Document]:
        """Claims up to `limit` documents with pending events and returns them as they are under
        the lease, oldest first; an empty list when nothing is left to claim."""
        while True:
            self._claimed_at = time.monotonic()  # before the claims: the lease runs from here
            # One search (it reads the whole collection on FerretDB), then one claim per found
            # document, which holds it against every other relay until the lease ends.
            found = (
                await collection.find(self._store.claimable(), {"_id": 1}).limit(limit).to_list()
            )
            expired = await self._expired_leases(collection) if len(found) < limit else []
            if not found and not expired:
                return []
            claimed = await self._store.claim_ids(collection, [doc["_id"] for doc in found])
            claimed += await self._store.take_over(collection, expired[: limit - len(claimed)])
            if claimed:
                return claimed
            # Another relay took every candidate between the search and the claim: search again.

    async def _expired_leases(self, collection: Collection) -> list[tuple[Any, Token]]:
        """Documents leased by other relays whose lease this relay has seen unchanged for
        `outbox_lease_s` (its own clock), with the token seen."""
        leased = await collection.find(
            {**self._store.pending(), LEASE_OWNER: {"$ne": None}}, {LEASE_OWNER: 1, LEASE_BEAT: 1}
        ).to_list()
        seen = {doc["_id"]: token_of(doc) for doc in leased if doc[LEASE_OWNER] != self._owner}
        expired = self._watches[collection.name].expired(seen)
        return [(doc_id, seen[doc_id]) for doc_id in expired]

    async def _publish(self, collection: Collection, documents: list[Document]) -> int:
        deliveries = Deliveries([doc[OUTBOX] for doc in documents])
        renewal = Renewal(
            lambda: self._store.renew(collection, [doc["_id"] for doc in documents]),
            lease_s=self._settings.outbox_lease_s,
            delivery_bound=self._delivery_bound,
            claimed_at=self._claimed_at,
        )
        try:
            async with renewal.running():
                await deliveries.send(self._sender, _record, renewal.may_send)
        finally:
            # Also when cancelled or failed: what was acknowledged is pulled, what was refused
            # for good is quarantined, the rest stays for the next round, and the leases go.
            confirmed = deliveries.confirmed()
            refused = deliveries.refused()
            sent = [
                (doc["_id"], doc[OUTBOX][:count])
                for doc, count in zip(documents, confirmed, strict=True)
            ]
            set_aside = {
                documents[index]["_id"]: (documents[index][OUTBOX][confirmed[index]], reason)
                for index, reason in refused.items()
            }
            await self._store.release(collection, sent, set_aside)
        published = [entry for _, entries in sent for entry in entries]
        self._count(published, [entry for entry, _ in set_aside.values()])
        for entry, reason in set_aside.values():
            log.error(
                "outbox_entry_quarantined",
                collection=collection.name,
                event_id=entry.get("id") if isinstance(entry, dict) else None,
                topic=entry.get("topic") if isinstance(entry, dict) else None,
                reason=reason,
            )
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

    def _count(self, published: Sequence[Document], refused: Sequence[Any] = ()) -> None:
        self.published += len(published)
        self.quarantined += len(refused)
        if self._metrics is not None:
            service = self._metrics.service
            for topic, count in Counter(entry["topic"] for entry in published).items():
                self._metrics.published.labels(service, topic).inc(count)
            for entry in refused:
                topic = str(entry.get("topic")) if isinstance(entry, dict) else "unreadable"
                self._metrics.outbox_quarantined.labels(service, topic).inc()
