"""Which events a consumer group has already handled, so that a redelivery has no second effect.

One document per (group, source, id) in the consuming service's own database, written for a
whole batch of records at once, after their effects and before their offsets are committed.
Handlers keep their effects idempotent as well (deterministic ids, version guards), so that a
crash between the effects and this record is harmless: the redelivered events find their
effects already there.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from pymongo.errors import BulkWriteError

from eci_common.envelope import EventMetadata
from eci_common.mongo import Collection

COLLECTION = "processed_events"
_DUPLICATE = 11000  # MongoDB's duplicate-key error code


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
