"""Where companies are kept. Documents never leave this module: callers see `Company`."""

from typing import Protocol

from pymongo.errors import DuplicateKeyError

from eci_common.envelope import Event
from eci_common.errors import Conflict
from eci_common.events.base import EventPayload
from eci_common.mongo import Collection, Document
from eci_common.outbox import outbox_entries
from eci_registry.domain import Company, ValueChainRole


class CompanyRepository(Protocol):
    """Stores companies together with the events their changes caused."""

    async def add(self, company: Company, events: list[Event[EventPayload]]) -> None: ...

    async def get(self, company_id: str) -> Company | None: ...


class MongoCompanyRepository:
    """Companies in MongoDB; each document carries its own outbox (one atomic write)."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        # FerretDB v1 has no sparse or partial index: companies without a SIREN get a
        # per-company placeholder so that the unique index only bites on real numbers.
        await self._collection.create_index("siren_key", unique=True, name="siren_unique")

    async def add(self, company: Company, events: list[Event[EventPayload]]) -> None:
        document = _to_document(company)
        document["outbox"] = outbox_entries(events)
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError as exc:
            raise Conflict(f"a company with SIREN {company.siren} is already registered") from exc

    async def get(self, company_id: str) -> Company | None:
        document = await self._collection.find_one({"_id": company_id})
        return None if document is None else _from_document(document)


def _to_document(company: Company) -> Document:
    return {
        "_id": company.id,
        "legal_name": company.legal_name,
        "siren": company.siren,
        "siren_key": company.siren or f"none:{company.id}",
        "country": company.country,
        "region": company.region,
        "city": company.city,
        "roles": [role.value for role in company.roles],
        "capabilities": company.capabilities,
        "registered_at": company.registered_at,
        "version": company.version,
        "active": company.active,
    }


def _from_document(document: Document) -> Company:
    return Company(
        id=document["_id"],
        legal_name=document["legal_name"],
        siren=document.get("siren"),
        country=document["country"],
        region=document.get("region"),
        city=document.get("city"),
        roles=[ValueChainRole(role) for role in document.get("roles", [])],
        capabilities=list(document.get("capabilities", [])),
        registered_at=document["registered_at"],
        version=document["version"],
        active=document.get("active", True),
    )
