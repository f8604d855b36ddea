"""Where notifications are kept. Documents never leave this module."""

from dataclasses import asdict
from typing import Protocol

from pymongo.errors import DuplicateKeyError

from eci_common.mongo import Collection, Document
from eci_notifications.domain import Channel, Notification


class NotificationRepository(Protocol):
    """Stores notifications; adding the same one twice is a no-op."""

    async def add(self, notification: Notification) -> bool: ...

    async def list_for(self, recipient: str, *, limit: int) -> list[Notification]: ...

    async def purge_company(self, company_id: str) -> int: ...


class MongoNotificationRepository:
    """Notifications in MongoDB, keyed by their deterministic id."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index(
            [("recipient", 1), ("created_at", -1)], name="recipient_recent"
        )
        await self._collection.create_index("company_id", name="company")

    async def add(self, notification: Notification) -> bool:
        """True if stored now, False if it was already there (a redelivered event)."""
        document = asdict(notification)
        document["_id"] = document.pop("id")
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def purge_company(self, company_id: str) -> int:
        """GDPR: every notification about the company or addressed to it."""
        about = await self._collection.delete_many({"company_id": company_id})
        to = await self._collection.delete_many({"recipient": company_id})
        return about.deleted_count + to.deleted_count

    async def list_for(self, recipient: str, *, limit: int) -> list[Notification]:
        cursor = self._collection.find({"recipient": recipient}).sort("created_at", -1).limit(limit)
        return [_from_document(document) async for document in cursor]


def _from_document(document: Document) -> Notification:
    fields = dict(document)
    fields["id"] = fields.pop("_id")
    fields["channel"] = Channel(fields["channel"])
    return Notification(**fields)
