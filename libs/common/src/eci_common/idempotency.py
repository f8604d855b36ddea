"""Which events a consumer group has already handled, so that a redelivery has no second effect.

One document per (group, source, id) in the consuming service's own database. Handlers keep
their effects idempotent as well (deterministic ids, version guards), so that a crash between
the effect and this record is harmless: the redelivered event finds its effect already there.
"""

import contextlib
from datetime import UTC, datetime
from typing import Protocol

from pymongo.errors import DuplicateKeyError

from eci_common.envelope import EventMetadata
from eci_common.mongo import Collection

COLLECTION = "processed_events"


class IdempotencyRecord(Protocol):
    """Remembers which events a consumer group has handled."""

    async def seen(self, group: str, meta: EventMetadata) -> bool: ...

    async def record(self, group: str, meta: EventMetadata) -> None: ...


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

    async def record(self, group: str, meta: EventMetadata) -> None:
        # A duplicate means an earlier delivery recorded it and then failed to commit.
        with contextlib.suppress(DuplicateKeyError):
            await self._collection.insert_one(
                {
                    "_id": self._key(group, meta),
                    "group": group,
                    "type": meta.type,
                    "handled_at": datetime.now(UTC),
                }
            )
