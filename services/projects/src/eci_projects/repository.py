"""Where projects are kept. Documents never leave this module: callers see `Project`."""

from datetime import date, datetime
from typing import Any, Protocol

from eci_common.envelope import Event
from eci_common.errors import StaleVersion
from eci_common.events.base import EventPayload
from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, Document
from eci_common.outbox import outbox_entries
from eci_projects.lifecycle import Status
from eci_projects.project import (
    Call,
    Decision,
    Description,
    Kind,
    Milestone,
    Project,
    Request,
    Visibility,
)


class ProjectRepository(Protocol):
    async def add(self, project: Project, events: list[Event[EventPayload]]) -> None: ...

    async def save(
        self, project: Project, events: list[Event[EventPayload]], *, expected_version: int
    ) -> None: ...

    async def get(self, project_id: str) -> Project | None: ...

    async def find(
        self, *, cluster_id: str | None, status: Status | None, company_id: str | None
    ) -> list[Project]: ...

    async def involving(self, company_id: str) -> list[Project]: ...


class MongoProjectRepository:
    """Projects in MongoDB; each document carries its own outbox."""

    def __init__(self, collection: Collection, locks: DocumentLocks) -> None:
        self._collection = collection
        self._locks = locks

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("cluster_id", name="by_cluster")
        await self._collection.create_index("lead_company_id", name="by_lead")
        await self._collection.create_index("partners", name="by_partner")

    async def add(self, project: Project, events: list[Event[EventPayload]]) -> None:
        document = _to_document(project)
        document["outbox"] = outbox_entries(events)
        await self._collection.insert_one(document)

    async def save(
        self, project: Project, events: list[Event[EventPayload]], *, expected_version: int
    ) -> None:
        document = _to_document(project)
        del document["_id"]
        update: Document = {"$set": document}
        if events:
            update["$push"] = {"outbox": {"$each": outbox_entries(events)}}
        async with self._locks.hold(self._collection.name, project.id):
            result = await self._collection.update_one(
                {"_id": project.id, "version": expected_version}, update
            )
        if result.matched_count == 0:
            raise StaleVersion(f"project {project.id} changed meanwhile; read it again")

    async def get(self, project_id: str) -> Project | None:
        document = await self._collection.find_one({"_id": project_id})
        return None if document is None else _from_document(document)

    async def involving(self, company_id: str) -> list[Project]:
        """Projects where the company applied or was invited."""
        return await _involving(self._collection, company_id)

    async def find(
        self, *, cluster_id: str | None, status: Status | None, company_id: str | None
    ) -> list[Project]:
        query: Document = {}
        if cluster_id is not None:
            query["cluster_id"] = cluster_id
        if status is not None:
            query["status"] = status.value
        if company_id is not None:
            query["$or"] = [{"lead_company_id": company_id}, {"partners": company_id}]
        found = await self._collection.find(query).sort("proposed_at", -1).limit(500).to_list()
        return [_from_document(document) for document in found]


async def _involving(collection: Collection, company_id: str) -> list[Project]:
    found = await collection.find(
        {"$or": [{"applications.company_id": company_id}, {"invitations.company_id": company_id}]}
    ).to_list()
    return [_from_document(document) for document in found]


def _day(value: date | None) -> str | None:
    # BSON has no date-only type: ISO strings keep dates exact and sortable.
    return value.isoformat() if value else None


def _parse_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _request(r: Request) -> Document:
    return {
        "id": r.id,
        "company_id": r.company_id,
        "message": r.message,
        "at": r.at,
        "decision": r.decision.value,
    }


def _to_document(project: Project) -> Document:
    d = project.description
    return {
        "_id": project.id,
        "cluster_id": project.cluster_id,
        "lead_company_id": project.lead_company_id,
        "title": d.title,
        "summary": d.summary,
        "kind": d.kind.value,
        "needed_capabilities": list(d.needed_capabilities),
        "visibility": d.visibility.value,
        "budget_eur": d.budget_eur,
        "starts_on": _day(d.starts_on),
        "ends_on": _day(d.ends_on),
        "status": project.status.value,
        "proposed_at": project.proposed_at,
        "updated_at": project.updated_at,
        "version": project.version,
        "call": None
        if project.call is None
        else {
            "needed_capabilities": list(project.call.needed_capabilities),
            "deadline": _day(project.call.deadline),
            "opened_at": project.call.opened_at,
            "open": project.call.open,
        },
        "applications": [_request(a) for a in project.applications],
        "invitations": [_request(i) for i in project.invitations],
        "partners": list(project.partners),
        "milestones": [
            {"id": m.id, "title": m.title, "due_on": _day(m.due_on), "reached_at": m.reached_at}
            for m in project.milestones
        ],
    }


def _from_request(document: dict[str, Any]) -> Request:
    at: datetime = document["at"]
    return Request(
        id=document["id"],
        company_id=document["company_id"],
        message=document.get("message", ""),
        at=at,
        decision=Decision(document["decision"]),
    )


def _from_document(document: Document) -> Project:
    call = document.get("call")
    return Project(
        id=document["_id"],
        cluster_id=document["cluster_id"],
        lead_company_id=document["lead_company_id"],
        description=Description(
            title=document["title"],
            summary=document.get("summary", ""),
            kind=Kind(document["kind"]),
            needed_capabilities=tuple(document.get("needed_capabilities") or []),
            visibility=Visibility(document.get("visibility", "cluster")),
            budget_eur=document.get("budget_eur"),
            starts_on=_parse_day(document.get("starts_on")),
            ends_on=_parse_day(document.get("ends_on")),
        ),
        status=Status(document["status"]),
        proposed_at=document["proposed_at"],
        updated_at=document["updated_at"],
        version=document["version"],
        call=None
        if call is None
        else Call(
            needed_capabilities=tuple(call["needed_capabilities"]),
            deadline=date.fromisoformat(call["deadline"]),
            opened_at=call["opened_at"],
            open=call["open"],
        ),
        applications=[_from_request(a) for a in document.get("applications") or []],
        invitations=[_from_request(i) for i in document.get("invitations") or []],
        partners=list(document.get("partners") or []),
        milestones=[
            Milestone(
                id=m["id"],
                title=m["title"],
                due_on=_parse_day(m.get("due_on")),
                reached_at=m.get("reached_at"),
            )
            for m in document.get("milestones") or []
        ],
    )
