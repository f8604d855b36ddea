"""Integrators' webhook subscriptions: which event types go to which URL, signed with which
secret, and the endpoint's health (consecutive failures; disabled past a threshold)."""

import secrets
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, Document


@dataclass(frozen=True)
class Subscription:
    """One endpoint of an integrator, for some event types."""

    id: str
    url: str
    event_types: tuple[str, ...]
    secret: str
    created_at: datetime
    active: bool = True
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success_at: datetime | None = None
    disabled_at: datetime | None = None

    @classmethod
    def create(cls, *, url: str, event_types: tuple[str, ...], now: datetime) -> "Subscription":
        return cls(
            id=str(uuid.uuid4()),
            url=url,
            event_types=tuple(sorted(set(event_types))),
            secret=secrets.token_hex(32),
            created_at=now,
        )

    def succeeded(self, now: datetime) -> "Subscription":
        return replace(self, consecutive_failures=0, last_error=None, last_success_at=now)

    def failed(self, reason: str, now: datetime, *, disable_after: int) -> "Subscription":
        """One more failure in a row; past `disable_after`, the endpoint is switched off."""
        failures = self.consecutive_failures + 1
        disabled = failures >= disable_after
        return replace(
            self,
            consecutive_failures=failures,
            last_error=reason,
            active=self.active and not disabled,
            disabled_at=self.disabled_at or (now if disabled else None),
        )

    def enabled(self) -> "Subscription":
        return replace(self, active=True, consecutive_failures=0, disabled_at=None)


class SubscriptionRepository(Protocol):
    """Stores subscriptions."""

    async def add(self, subscription: Subscription) -> None: ...

    async def get(self, subscription_id: str) -> Subscription | None: ...

    async def all(self) -> list[Subscription]: ...

    async def for_event_type(self, event_type: str) -> list[Subscription]: ...

    async def save(self, subscription: Subscription) -> None: ...

    async def delete(self, subscription_id: str) -> bool: ...


class MongoSubscriptionRepository:
    """Subscriptions in MongoDB. Every consumed event asks which subscriptions want it: the
    active ones are cached for `cache_s` (and dropped at each change made through this process),
    so that catching up on a topic's history costs no query per event."""

    def __init__(self, collection: Collection, locks: DocumentLocks, cache_s: float = 1.0) -> None:
        self._collection = collection
        self._locks = locks
        self._cache_s = cache_s
        self._active: list[Subscription] | None = None
        self._loaded_at = 0.0

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("event_types", name="by_event_type")

    async def add(self, subscription: Subscription) -> None:
        await self._collection.insert_one(_to_document(subscription))
        self._active = None

    async def get(self, subscription_id: str) -> Subscription | None:
        found = await self._collection.find_one({"_id": subscription_id})
        return None if found is None else _from_document(found)

    async def all(self) -> list[Subscription]:
        cursor = self._collection.find({}).sort("created_at", 1)
        return [_from_document(document) async for document in cursor]

    async def for_event_type(self, event_type: str) -> list[Subscription]:
        if self._active is None or time.monotonic() - self._loaded_at > self._cache_s:
            cursor = self._collection.find({"active": True})
            self._active = [_from_document(document) async for document in cursor]
            self._loaded_at = time.monotonic()
        return [s for s in self._active if event_type in s.event_types]

    async def save(self, subscription: Subscription) -> None:
        document = _to_document(subscription)
        async with self._locks.hold(self._collection.name, subscription.id):
            await self._collection.replace_one({"_id": subscription.id}, document)
        self._active = None

    async def delete(self, subscription_id: str) -> bool:
        async with self._locks.hold(self._collection.name, subscription_id):
            result = await self._collection.delete_one({"_id": subscription_id})
        self._active = None
        return result.deleted_count == 1


def _to_document(subscription: Subscription) -> Document:
    document: dict[str, Any] = asdict(subscription)
    document["_id"] = document.pop("id")
    document["event_types"] = list(subscription.event_types)
    return document


def _from_document(document: Document) -> Subscription:
    fields: dict[str, Any] = {
        name: document.get(name) for name in Subscription.__dataclass_fields__
    }
    fields["id"] = document["_id"]
    fields["event_types"] = tuple(document.get("event_types") or ())
    fields["active"] = bool(document.get("active", True))
    fields["consecutive_failures"] = int(document.get("consecutive_failures") or 0)
    return Subscription(**fields)
