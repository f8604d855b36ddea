"""Transactional outbox for a database without multi-document transactions.

A state change and the events it causes are written in one single-document write: the events
ride in the aggregate's own document, in an `outbox` array, in the order they happened. The relay
claims one document at a time with a lease (so that two replicas do not publish the same
document at once), publishes its pending events in order with `acks=all`, then pulls exactly
those events out of the array. A crash between publishing and pulling republishes them: delivery
is at least once, and consumers deduplicate on the CloudEvents `source` + `id`.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Iterable, Sequence
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
from eci_common.settings import OutboxSettings

OUTBOX = "outbox"
LEASE_UNTIL = "outbox_lease_until"
LEASE_OWNER = "outbox_lease_owner"
IDLE_POLL_MAX_S = 5.0

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
        publisher: RecordPublisher,
        settings: OutboxSettings,
        locks: DocumentLocks,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._collections = collections
        self._locks = locks
        self._publisher = publisher
        self._settings = settings
        self._owner = str(uuid.uuid4())
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def wake(self) -> None:
        """Called after a write that added events, so they leave without waiting for the poll."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, grace_s: float) -> None:
        """Finishes the document in hand, drains what is pending if it can, then stops."""
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
        for collection in self._collections:
            while (document := await self._claim(collection)) is not None:
                sent += await self._publish(collection, document)
        return sent

    async def backlog(self) -> int:
        """How many events wait in outboxes (for readiness and metrics)."""
        total = 0
        for collection in self._collections:
            async for doc in collection.find({f"{OUTBOX}.0": {"$exists": True}}, {OUTBOX: 1}):
                total += len(doc[OUTBOX])
        return total

    async def _claim(self, collection: Collection) -> Document | None:
        # Find a candidate first, then claim it by id under its document lock: the claim is an
        # update of an aggregate that the service may be writing at the same moment.
        while True:
            now = datetime.now(UTC)
            claimable = {
                f"{OUTBOX}.0": {"$exists": True},
                "$or": [{LEASE_UNTIL: None}, {LEASE_UNTIL: {"$lt": now}}],
            }
            candidate = await collection.find_one(claimable, {"_id": 1})
            if candidate is None:
                return None
            async with self._locks.hold(collection.name, candidate["_id"]):
                claimed = await collection.find_one_and_update(
                    {"_id": candidate["_id"], **claimable},
                    {
                        "$set": {
                            LEASE_UNTIL: now + timedelta(seconds=self._settings.outbox_lease_s),
                            LEASE_OWNER: self._owner,
                        }
                    },
                    return_document=ReturnDocument.AFTER,
                )
            if claimed is not None:
                return claimed

    async def _publish(self, collection: Collection, document: Document) -> int:
        entries: list[Document] = document[OUTBOX]
        try:
            for entry in entries:
                await self._publisher.publish(_record(entry))
        except BaseException:
            await self._release(collection, document["_id"], [])
            raise
        await self._release(collection, document["_id"], entries)
        self.published += len(entries)
        if self._metrics is not None:
            for entry in entries:
                self._metrics.published.labels(self._metrics.service, entry["topic"]).inc()
        log.debug("outbox_published", aggregate=document["_id"], events=len(entries))
        return len(entries)

    async def _release(
        self, collection: Collection, aggregate_id: Any, sent: list[Document]
    ) -> None:
        update: Document = {"$unset": {LEASE_UNTIL: "", LEASE_OWNER: ""}}
        if sent:
            # $pullAll on the exact entries read: FerretDB v1 ignores a $pull by condition.
            # Events appended meanwhile are different entries and stay for the next round.
            update["$pullAll"] = {OUTBOX: sent}
        async with self._locks.hold(collection.name, aggregate_id):
            await collection.update_one({"_id": aggregate_id, LEASE_OWNER: self._owner}, update)
