"""What projects knows of companies: a read model built only from registry events."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pymongo.errors import DuplicateKeyError

from eci_common.mongo import Collection, Document


@dataclass(frozen=True)
class KnownCompany:
    """A company as projects needs it: identity, place in the value chain, capabilities."""

    id: str
    legal_name: str
    country: str
    region: str | None
    roles: list[str]
    capabilities: list[str]
    active: bool
    version: int
    registered_at: datetime


class CompanyDirectory(Protocol):
    """The read model of companies."""

    async def upsert(self, company: KnownCompany) -> bool: ...

    async def get(self, company_id: str) -> KnownCompany | None: ...

    async def list(self, *, limit: int) -> list[KnownCompany]: ...


class MongoCompanyDirectory:
    """Companies in the projects database, each applied only if newer than what is stored."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def upsert(self, company: KnownCompany) -> bool:
        """Stores the company unless a version at least as new is there; True if applied."""
        document = _to_document(company)
        try:
            result = await self._collection.update_one(
                {"_id": company.id, "version": {"$lt": company.version}},
                {"$set": document},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # the stored version is as new or newer: a redelivery
        return result.upserted_id is not None or result.modified_count == 1

    async def get(self, company_id: str) -> KnownCompany | None:
        document = await self._collection.find_one({"_id": company_id})
        return None if document is None else _from_document(document)

    async def list(self, *, limit: int) -> list[KnownCompany]:
        cursor = self._collection.find({}).sort("legal_name", 1).limit(limit)
        return [_from_document(document) async for document in cursor]


def _to_document(company: KnownCompany) -> Document:
    return {
        "legal_name": company.legal_name,
        "country": company.country,
        "region": company.region,
        "roles": company.roles,
        "capabilities": company.capabilities,
        "active": company.active,
        "version": company.version,
        "registered_at": company.registered_at,
    }


def _from_document(document: Document) -> KnownCompany:
    return KnownCompany(
        id=document["_id"],
        legal_name=document["legal_name"],
        country=document["country"],
        region=document.get("region"),
        roles=list(document.get("roles", [])),
        capabilities=list(document.get("capabilities", [])),
        active=document.get("active", True),
        version=document["version"],
        registered_at=document["registered_at"],
    )
