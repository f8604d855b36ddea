"""What projects knows of companies and cluster memberships: a read model built only from
registry events. Every write is guarded by the aggregate version the event carries, so a
redelivered or replayed event never moves the model backwards."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pymongo.errors import DuplicateKeyError

from eci_common.mongo import Collection, Document
from eci_projects.live_model import LiveModel

Collections = Callable[[], Awaitable[tuple[Collection, Collection]]]


@dataclass(frozen=True)
class KnownCompany:
    """A company as projects needs it: identity, place in the value chain, capabilities."""

    id: str
    legal_name: str | None
    country: str | None
    region: str | None
    roles: list[str]
    capabilities: list[str]
    status: str  # active, deactivated or erased
    version: int
    registered_at: datetime | None


class CompanyDirectory(Protocol):
    """The read model of companies and memberships."""

    async def apply(self, company_id: str, version: int, fields: dict[str, Any]) -> bool: ...

    async def apply_membership(
        self, cluster_id: str, company_id: str, version: int, role: str | None
    ) -> bool: ...

    async def get(self, company_id: str) -> KnownCompany | None: ...

    async def all(self, *, limit: int) -> list[KnownCompany]: ...

    async def clusters_of(self, company_id: str) -> list[str]: ...

    async def members_of(self, cluster_id: str) -> set[str]: ...


async def _guarded_upsert(
    collection: Collection, key: str, version: int, fields: Document, unset: list[str]
) -> bool:
    """Applies the fields if `version` is newer than what is stored; True if applied.

    Read first, then insert or update by id: on FerretDB v1 an upsert or an update whose filter
    is more than an `_id` equality scans the whole collection, while a lookup and an insert by
    id use its index. The update keeps the version it read in its filter; when another writer
    got there in between (the insert meets a duplicate key, the update matches nothing), the
    document is read again and the comparison made again, so a newer event always ends up
    applied and an older one never is.
    """
    while True:
        stored = await collection.find_one({"_id": key}, {"version": 1})
        if stored is None:
            try:
                await collection.insert_one({"_id": key, **fields, "version": version})
            except DuplicateKeyError:
                continue  # inserted meanwhile: compare with what is there now
            return True
        if stored["version"] >= version:
            return False  # a redelivery, a replay or a newer event: never move backwards
        update: Document = {"$set": {**fields, "version": version}}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        result = await collection.update_one({"_id": key, "version": stored["version"]}, update)
        if result.matched_count == 1:
            return True
        # Lost a race with another write: read again.


class MongoCompanyDirectory:
    """Companies and memberships in the projects database: in two given collections, or in
    the live generation (`live`), which a rebuild can replace while the service reads."""

    def __init__(self, companies: Collection, memberships: Collection) -> None:
        async def fixed() -> tuple[Collection, Collection]:
            return companies, memberships

        self._collections: Collections = fixed

    @classmethod
    def live(cls, model: LiveModel) -> "MongoCompanyDirectory":
        """The directory of whichever generation the pointer names at each call."""
        directory = cls.__new__(cls)
        directory._collections = model.collections
        return directory

    async def ensure_indexes(self) -> None:
        companies, memberships = await self._collections()
        await memberships.create_index("company_id", name="by_company")
        await companies.create_index("capabilities", name="by_capability")

    async def apply(self, company_id: str, version: int, fields: dict[str, Any]) -> bool:
        """Sets the fields if this version is newer; a None value removes the field."""
        present = {key: value for key, value in fields.items() if value is not None}
        absent = [key for key, value in fields.items() if value is None]
        companies, _ = await self._collections()
        return await _guarded_upsert(companies, company_id, version, present, absent)

    async def apply_membership(
        self, cluster_id: str, company_id: str, version: int, role: str | None
    ) -> bool:
        """`role=None` records that the company left (kept, so that an older join cannot
        resurrect the membership)."""
        fields = {"cluster_id": cluster_id, "company_id": company_id, "role": role}
        _, memberships = await self._collections()
        return await _guarded_upsert(memberships, f"{cluster_id}|{company_id}", version, fields, [])

    async def get(self, company_id: str) -> KnownCompany | None:
        companies, _ = await self._collections()
        document = await companies.find_one({"_id": company_id})
        return None if document is None else _from_document(document)

    async def all(self, *, limit: int) -> list[KnownCompany]:
        companies, _ = await self._collections()
        cursor = companies.find({}).sort("_id", 1).limit(limit)
        return [_from_document(document) async for document in cursor]

    async def members_of(self, cluster_id: str) -> set[str]:
        _, memberships = await self._collections()
        found = await memberships.find({"cluster_id": cluster_id, "role": {"$ne": None}}).to_list()
        return {document["company_id"] for document in found}

    async def clusters_of(self, company_id: str) -> list[str]:
        _, memberships = await self._collections()
        found = await memberships.find({"company_id": company_id, "role": {"$ne": None}}).to_list()
        return sorted(document["cluster_id"] for document in found)


def _from_document(document: Document) -> KnownCompany:
    return KnownCompany(
        id=document["_id"],
        legal_name=document.get("legal_name"),
        country=document.get("country"),
        region=document.get("region"),
        roles=list(document.get("roles") or []),
        capabilities=list(document.get("capabilities") or []),
        status=document.get("status", "active"),
        version=document["version"],
        registered_at=document.get("registered_at"),
    )
