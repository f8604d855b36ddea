"""Where companies are kept. Documents never leave this module: callers see `Company`.

Each write is one single-document operation that stores the new state and appends the events
it caused to the document's outbox; updates are guarded by the version the change started from.
"""

import base64
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from pymongo.errors import DuplicateKeyError, OperationFailure

from eci_common.envelope import Event
from eci_common.errors import Conflict, StaleVersion
from eci_common.events.base import EventPayload
from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, Document, is_duplicate_key
from eci_common.outbox import outbox_entries
from eci_registry.companies import Company, CompanyStatus, Contact, Profile
from eci_registry.domain import HeadcountBand, Language, Membership, ValueChainRole


@dataclass(frozen=True)
class CompanyFilter:
    """Search criteria; `company_ids` restricts to a set (members of a cluster)."""

    capabilities: tuple[str, ...] = ()
    role: ValueChainRole | None = None
    region: str | None = None
    membership: Membership | None = None
    status: CompanyStatus | None = None
    siren: str | None = None
    name_contains: str | None = None
    company_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Page:
    companies: list[Company]
    next_cursor: str | None


class CompanyRepository(Protocol):
    """Stores companies together with the events their changes caused."""

    async def add(self, company: Company, events: list[Event[EventPayload]]) -> None: ...

    async def save(
        self, company: Company, events: list[Event[EventPayload]], *, expected_version: int
    ) -> None: ...

    async def get(self, company_id: str) -> Company | None: ...

    async def search(self, criteria: CompanyFilter, *, limit: int, cursor: str | None) -> Page: ...


def _siren_conflict(company: Company) -> Conflict:
    siren = company.profile.siren if company.profile else None
    return Conflict(f"a company with SIREN {siren} is already registered")


class MongoCompanyRepository:
    """Companies in MongoDB; each document carries its own outbox."""

    def __init__(self, collection: Collection, locks: DocumentLocks) -> None:
        self._collection = collection
        self._locks = locks

    async def ensure_indexes(self) -> None:
        # FerretDB v1 has no sparse or partial index: companies without a SIREN (and erased
        # ones) get a per-company placeholder, so the unique index bites on real numbers only.
        await self._collection.create_index("siren_key", unique=True, name="siren_unique")
        await self._collection.create_index([("name_key", 1), ("_id", 1)], name="by_name")
        await self._collection.create_index("capabilities", name="by_capability")
        await self._collection.create_index("roles", name="by_role")

    async def add(self, company: Company, events: list[Event[EventPayload]]) -> None:
        document = _to_document(company)
        document["outbox"] = outbox_entries(events)
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError as exc:
            raise _siren_conflict(company) from exc

    async def save(
        self, company: Company, events: list[Event[EventPayload]], *, expected_version: int
    ) -> None:
        document = _to_document(company)
        del document["_id"]
        unset = {name: "" for name in _PROFILE_KEYS if document.get(name) is None}
        for name in unset:
            document.pop(name, None)
        update: Document = {"$set": document}
        if events:
            update["$push"] = {"outbox": {"$each": outbox_entries(events)}}
        if unset:
            update["$unset"] = unset
        try:
            async with self._locks.hold(self._collection.name, company.id):
                result = await self._collection.update_one(
                    {"_id": company.id, "version": expected_version}, update
                )
        except OperationFailure as exc:
            if is_duplicate_key(exc):
                raise _siren_conflict(company) from exc
            raise
        if result.matched_count == 0:
            raise StaleVersion(f"company {company.id} changed meanwhile; read it again")

    async def get(self, company_id: str) -> Company | None:
        document = await self._collection.find_one({"_id": company_id})
        return None if document is None else _from_document(document)

    async def search(self, criteria: CompanyFilter, *, limit: int, cursor: str | None) -> Page:
        query = _query(criteria)
        if cursor is not None:
            name_key, last_id = _decode_cursor(cursor)
            query = {
                "$and": [
                    query,
                    {"$or": [
                        {"name_key": {"$gt": name_key}},
                        {"name_key": name_key, "_id": {"$gt": last_id}},
                    ]},
                ]
            }  # fmt: skip
        found = (
            await self._collection.find(query)
            .sort([("name_key", 1), ("_id", 1)])
            .limit(limit + 1)
            .to_list()
        )
        companies = [_from_document(document) for document in found[:limit]]
        next_cursor = None
        if len(found) > limit:
            last = found[limit - 1]
            next_cursor = _encode_cursor(last["name_key"], last["_id"])
        return Page(companies=companies, next_cursor=next_cursor)


def _query(criteria: CompanyFilter) -> Document:
    clauses: list[Document] = []
    if criteria.status is None:
        clauses.append({"status": {"$ne": CompanyStatus.ERASED.value}})
    else:
        clauses.append({"status": criteria.status.value})
    if criteria.capabilities:
        clauses.append({"capabilities": {"$in": list(criteria.capabilities)}})
    if criteria.role is not None:
        clauses.append({"roles": criteria.role.value})
    if criteria.region is not None:
        clauses.append({"region": criteria.region})
    if criteria.membership is not None:
        clauses.append({"membership": criteria.membership.value})
    if criteria.siren is not None:
        clauses.append({"siren": criteria.siren})
    if criteria.name_contains:
        # Escaped: user text is matched literally, never interpreted as a pattern.
        clauses.append({"name_key": {"$regex": re.escape(criteria.name_contains.casefold())}})
    if criteria.company_ids is not None:
        clauses.append({"_id": {"$in": list(criteria.company_ids)}})
    return {"$and": clauses}


def _encode_cursor(name_key: str, company_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([name_key, company_id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        name_key, company_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(name_key, str) or not isinstance(company_id, str):
        raise ValueError("invalid cursor")  # noqa: TRY004 - a bad cursor is a bad value (422)
    return name_key, company_id


_PROFILE_KEYS = (
    "legal_name", "name_key", "siren", "country", "region", "city", "website",
    "headcount_band", "membership", "roles", "capabilities", "contacts",
)  # fmt: skip


def _to_document(company: Company) -> Document:
    document: Document = {
        "_id": company.id,
        "status": company.status.value,
        "registered_at": company.registered_at,
        "updated_at": company.updated_at,
        "erased_at": company.erased_at,
        "version": company.version,
    }
    profile = company.profile
    if profile is None:
        document["siren_key"] = f"erased:{company.id}"
        document.update(dict.fromkeys(_PROFILE_KEYS))
        return document
    document.update(
        {
            "legal_name": profile.legal_name,
            "name_key": profile.legal_name.casefold(),
            "siren": profile.siren,
            "siren_key": profile.siren or f"none:{company.id}",
            "country": profile.country,
            "region": profile.region,
            "city": profile.city,
            "website": profile.website,
            "headcount_band": profile.headcount_band.value if profile.headcount_band else None,
            "membership": profile.membership.value,
            "roles": [role.value for role in profile.roles],
            "capabilities": list(profile.capabilities),
            "contacts": [
                {**asdict(contact), "language": contact.language.value}
                for contact in profile.contacts
            ],
        }
    )
    return document


def _from_document(document: Document) -> Company:
    profile = None
    if document.get("legal_name") is not None:
        band = document.get("headcount_band")
        profile = Profile(
            legal_name=document["legal_name"],
            siren=document.get("siren"),
            country=document["country"],
            region=document.get("region"),
            city=document.get("city"),
            website=document.get("website"),
            headcount_band=HeadcountBand(band) if band else None,
            membership=Membership(document.get("membership", "member")),
            roles=tuple(ValueChainRole(role) for role in document.get("roles") or []),
            capabilities=tuple(document.get("capabilities") or []),
            contacts=tuple(_contact(contact) for contact in document.get("contacts") or []),
        )
    return Company(
        id=document["_id"],
        profile=profile,
        status=CompanyStatus(document.get("status", "active")),
        registered_at=document["registered_at"],
        updated_at=document.get("updated_at") or document["registered_at"],
        version=document["version"],
        erased_at=document.get("erased_at"),
    )


def _contact(document: dict[str, Any]) -> Contact:
    return Contact(
        name=document["name"],
        email=document["email"],
        role=document.get("role"),
        phone=document.get("phone"),
        language=Language(document.get("language", "fr")),
        consent=bool(document.get("consent")),
        consent_at=document.get("consent_at"),
    )
