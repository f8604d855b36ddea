"""Where notifications and their delivery state are kept. Documents never leave this module.

A notification is inserted once (its id is deterministic: a redelivered event finds it there);
every later change (read, attempt, outcome) is an update under the document's lock, and the
events it causes ride in the same document's outbox.
"""

from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, Protocol

from pymongo.errors import DuplicateKeyError

from eci_common.envelope import Event
from eci_common.events.base import EventPayload
from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, Document
from eci_common.outbox import outbox_entries
from eci_notifications.domain import Channel, Notification, RecipientKind, Status


class NotificationRepository(Protocol):
    """Stores notifications; adding the same one twice is a no-op."""

    async def add(self, notification: Notification) -> bool: ...

    async def get(self, notification_id: str) -> Notification | None: ...

    async def list_for(
        self, recipient: str, *, limit: int, unread_only: bool = False
    ) -> list[Notification]: ...

    async def unread_count(self, recipient: str) -> int: ...

    async def mark_read(self, notification_id: str) -> Notification | None: ...

    async def deliveries(
        self, *, status: Status | None, channel: Channel | None, recipient: str | None, limit: int
    ) -> list[Notification]: ...

    async def due(self, now: datetime, *, limit: int) -> list[Notification]: ...

    async def digest_pending(self, before: datetime) -> list[Notification]: ...

    async def record(
        self, notification: Notification, events: list[Event[EventPayload]]
    ) -> Notification | None: ...

    async def purge_company(self, company_id: str) -> int: ...


class MongoNotificationRepository:
    """Notifications in MongoDB, keyed by their deterministic id, each with its own outbox."""

    def __init__(self, collection: Collection, locks: DocumentLocks | None = None) -> None:
        self._collection = collection
        self._locks = locks or DocumentLocks()

    @property
    def collection(self) -> Collection:
        """For the outbox relay, which publishes the events of these documents."""
        return self._collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index(
            [("recipient", 1), ("created_at", -1)], name="recipient_recent"
        )
        await self._collection.create_index("company_id", name="company")
        await self._collection.create_index("about", name="about")
        await self._collection.create_index("recipient_company_id", name="recipient_company")
        await self._collection.create_index(
            [("status", 1), ("next_attempt_at", 1)], name="delivery_due"
        )

    async def add(self, notification: Notification) -> bool:
        """True if stored now, False if it was already there (a redelivered event)."""
        document = _to_document(notification)
        document["outbox"] = []
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, notification_id: str) -> Notification | None:
        found = await self._collection.find_one({"_id": notification_id})
        return None if found is None else _from_document(found)

    async def list_for(
        self, recipient: str, *, limit: int, unread_only: bool = False
    ) -> list[Notification]:
        query: Document = {"recipient": recipient, "channel": Channel.INBOX.value}
        query["status"] = Status.SENT.value  # an inbox the contact opted out of shows nothing
        if unread_only:
            query["read"] = False
        cursor = self._collection.find(query).sort("created_at", -1).limit(limit)
        return [_from_document(document) async for document in cursor]

    async def unread_count(self, recipient: str) -> int:
        return await self._collection.count_documents(
            {
                "recipient": recipient,
                "channel": Channel.INBOX.value,
                "status": Status.SENT.value,
                "read": False,
            }
        )

    async def mark_read(self, notification_id: str) -> Notification | None:
        async with self._locks.hold(self._collection.name, notification_id):
            await self._collection.update_one(
                {"_id": notification_id, "channel": Channel.INBOX.value}, {"$set": {"read": True}}
            )
        return await self.get(notification_id)

    async def deliveries(
        self, *, status: Status | None, channel: Channel | None, recipient: str | None, limit: int
    ) -> list[Notification]:
        query: Document = {}
        if status is not None:
            query["status"] = status.value
        if channel is not None:
            query["channel"] = channel.value
        if recipient is not None:
            query["recipient"] = recipient
        cursor = self._collection.find(query).sort("created_at", -1).limit(limit)
        return [_from_document(document) async for document in cursor]

    async def due(self, now: datetime, *, limit: int) -> list[Notification]:
        """Immediate e-mails and webhook calls whose next attempt has come, oldest first."""
        cursor = (
            self._collection.find(
                {
                    "status": Status.PENDING.value,
                    "digest": False,
                    "next_attempt_at": {"$lte": now},
                }
            )
            .sort("next_attempt_at", 1)
            .limit(limit)
        )
        return [_from_document(document) async for document in cursor]

    async def digest_pending(self, before: datetime) -> list[Notification]:
        cursor = self._collection.find(
            {"status": Status.PENDING.value, "digest": True, "created_at": {"$lt": before}}
        ).sort("created_at", 1)
        return [_from_document(document) async for document in cursor]

    async def record(
        self, notification: Notification, events: list[Event[EventPayload]]
    ) -> Notification | None:
        """Stores the new delivery state (version bumped) and its events, in one write; None
        when the stored version is no longer `notification.version` (another writer came
        first): nothing was written, and the caller must not count the outcome as its own."""
        changed = replace(notification, version=notification.version + 1)
        document = _to_document(changed)
        del document["_id"]
        update: Document = {"$set": document}
        if events:
            update["$push"] = {"outbox": {"$each": outbox_entries(events)}}
        async with self._locks.hold(self._collection.name, notification.id):
            result = await self._collection.update_one(
                {"_id": notification.id, "version": notification.version}, update
            )
        return changed if result.matched_count == 1 else None

    async def purge_company(self, company_id: str) -> int:
        """GDPR: every notification about the company, addressed to it or to its contacts."""
        deleted = 0
        for query in (
            {"company_id": company_id},
            {"about": company_id},
            {"recipient": company_id},
            {"recipient_company_id": company_id},
        ):
            result = await self._collection.delete_many(query)
            deleted += result.deleted_count
        return deleted


def _to_document(notification: Notification) -> Document:
    document: dict[str, Any] = asdict(notification)
    document["_id"] = document.pop("id")
    document["about"] = list(notification.about)
    return document


def _from_document(document: Document) -> Notification:
    fields = {
        name: document[name]
        for name in Notification.__dataclass_fields__
        if name != "id" and name in document
    }
    fields["channel"] = Channel(fields["channel"])
    fields["recipient_kind"] = RecipientKind(fields.get("recipient_kind", RecipientKind.STAFF))
    fields["status"] = Status(fields.get("status", Status.SENT))
    fields["about"] = tuple(fields.get("about") or ())
    return Notification(id=document["_id"], **fields)
