"""Which events a consumer group has already handled, so that a redelivery has no second effect.

One document per (group, source, id) in the consuming service's own database, written for a
whole batch of records at once, after their effects and before their offsets are committed.
Handlers keep their effects idempotent as well (deterministic ids, version guards), so that a
crash between the effects and this record is harmless: the redelivered events find their
effects already there.

Records are kept `consumer_processed_retention_s` (45 days by default), longer than anything
redelivers a handled event: a relay republishing after a crash (seconds), a redelivered batch
(seconds), a dead letter replayed by an operator (the dead-letter topics keep 30 days). On
MongoDB a TTL index on `handled_at` expires them; FerretDB has no TTL indexes, so the service
deletes them itself every `consumer_processed_prune_interval_s`. Without that bound the
collection grows forever, and every lookup on FerretDB scans it.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from pymongo.errors import BulkWriteError, OperationFailure

from eci_common.envelope import EventMetadata
from eci_common.logging import get_logger
from eci_common.mongo import Collection
from eci_common.periodic import PeriodicJob

COLLECTION = "processed_events"
_DUPLICATE = 11000  # MongoDB's duplicate-key error code
_NOT_IMPLEMENTED = 238  # FerretDB v1.24: 'Index option "expireAfterSeconds" is not implemented'
_INDEX_OPTIONS_CONFLICT = 85  # the TTL index exists with another expiry
TTL_INDEX = "handled_at_ttl"

log = get_logger(__name__)


class IdempotencyRecord(Protocol):
    """Remembers which events a consumer group has handled."""

    async def seen(self, group: str, meta: EventMetadata) -> bool: ...

    async def record(self, group: str, metas: Sequence[EventMetadata]) -> None: ...


class ProcessedEvents:
    """The idempotency record of the consumer groups of one service."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    @staticmethod
    def _key(group: str, meta: EventMetadata) -> str:
        # CloudEvents: source + id identify an event.
        return f"{group}|{meta.source}|{meta.id}"

    async def seen(self, group: str, meta: EventMetadata) -> bool:
        found = await self._collection.find_one({"_id": self._key(group, meta)}, {"_id": 1})
        return found is not None

    async def record(self, group: str, metas: Sequence[EventMetadata]) -> None:
        """Remembers these events, in one unordered insert; ones already there are no error (an
        earlier delivery recorded them, then failed to commit)."""
        if not metas:
            return
        now = datetime.now(UTC)
        documents = {
            self._key(group, meta): {
                "_id": self._key(group, meta),
                "group": group,
                "type": meta.type,
                "handled_at": now,
            }
            for meta in metas
        }
        try:
            await self._collection.insert_many(list(documents.values()), ordered=False)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != _DUPLICATE]
            if others or exc.details.get("writeConcernErrors"):
                raise

    async def prune(self, *, older_than: datetime) -> int:
        """Forgets the events handled before `older_than`; returns how many."""
        result = await self._collection.delete_many({"handled_at": {"$lt": older_than}})
        return result.deleted_count

    async def ensure_expiry(self, retention_s: float) -> Literal["ttl", "service"]:
        """A TTL index where the database has them ("ttl"); "service" where it has not
        (FerretDB), and the service must prune (`Retention`)."""
        seconds = max(int(retention_s), 1)
        try:
            await self._collection.create_index(
                "handled_at", name=TTL_INDEX, expireAfterSeconds=seconds
            )
        except OperationFailure as exc:
            if exc.code == _NOT_IMPLEMENTED:
                return "service"
            if exc.code != _INDEX_OPTIONS_CONFLICT:
                raise
            # The retention setting changed. Not `collMod` (dbAdmin): a service's account has
            # `readWrite` only, which may drop and create indexes.
            await self._collection.drop_index(TTL_INDEX)
            await self._collection.create_index(
                "handled_at", name=TTL_INDEX, expireAfterSeconds=seconds
            )
        return "ttl"


class Retention:
    """Deletes idempotency records older than the retention, periodically, on a database
    without TTL indexes. A failed round (the database away) is logged and tried again at the
    next one; it never stops the service."""

    def __init__(
        self, processed: ProcessedEvents, *, retention_s: float, interval_s: float
    ) -> None:
        self._processed = processed
        self._retention = timedelta(seconds=retention_s)
        self._job = PeriodicJob("processed-events-retention", self.prune_once, interval_s)

    async def prune_once(self) -> int:
        pruned = await self._processed.prune(older_than=datetime.now(UTC) - self._retention)
        if pruned:
            log.info("processed_events_pruned", count=pruned)
        return pruned

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
