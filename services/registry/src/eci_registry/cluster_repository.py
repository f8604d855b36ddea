"""Where clusters and their members are kept. Documents never leave this module."""

from typing import Protocol

from pymongo.errors import DuplicateKeyError

from eci_common.envelope import Event
from eci_common.errors import Conflict, StaleVersion
from eci_common.events.base import EventPayload
from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, Document
from eci_common.outbox import outbox_entries
from eci_registry.clusters import Cluster, ClusterRole, ClusterStatus, Member


class ClusterRepository(Protocol):
    """Stores clusters together with the events their changes caused."""

    async def add(self, cluster: Cluster, events: list[Event[EventPayload]]) -> None: ...

    async def save(
        self, cluster: Cluster, events: list[Event[EventPayload]], *, expected_version: int
    ) -> None: ...

    async def get(self, cluster_id: str) -> Cluster | None: ...

    async def find(
        self, *, code: str | None, theme: str | None, status: ClusterStatus | None
    ) -> list[Cluster]: ...

    async def of_company(self, company_id: str) -> list[Cluster]: ...


class MongoClusterRepository:
    """Clusters in MongoDB, members embedded; each document carries its own outbox."""

    def __init__(self, collection: Collection, locks: DocumentLocks) -> None:
        self._collection = collection
        self._locks = locks

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("code", unique=True, name="code_unique")
        await self._collection.create_index("members.company_id", name="by_member")

    async def add(self, cluster: Cluster, events: list[Event[EventPayload]]) -> None:
        document = _to_document(cluster)
        document["outbox"] = outbox_entries(events)
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError as exc:
            raise Conflict(f"a cluster with code {cluster.code!r} exists") from exc

    async def save(
        self, cluster: Cluster, events: list[Event[EventPayload]], *, expected_version: int
    ) -> None:
        document = _to_document(cluster)
        del document["_id"]
        update: Document = {"$set": document}
        if events:
            update["$push"] = {"outbox": {"$each": outbox_entries(events)}}
        async with self._locks.hold(self._collection.name, cluster.id):
            result = await self._collection.update_one(
                {"_id": cluster.id, "version": expected_version}, update
            )
        if result.matched_count == 0:
            raise StaleVersion(f"cluster {cluster.id} changed meanwhile; read it again")

    async def get(self, cluster_id: str) -> Cluster | None:
        document = await self._collection.find_one({"_id": cluster_id})
        return None if document is None else _from_document(document)

    async def find(
        self, *, code: str | None, theme: str | None, status: ClusterStatus | None
    ) -> list[Cluster]:
        query: Document = {}
        if code is not None:
            query["code"] = code
        if theme is not None:
            query["theme"] = theme
        if status is not None:
            query["status"] = status.value
        found = await self._collection.find(query).sort("code", 1).to_list()
        return [_from_document(document) for document in found]

    async def of_company(self, company_id: str) -> list[Cluster]:
        found = await self._collection.find({"members.company_id": company_id}).to_list()
        return sorted((_from_document(d) for d in found), key=lambda cluster: cluster.code)


def _to_document(cluster: Cluster) -> Document:
    return {
        "_id": cluster.id,
        "code": cluster.code,
        "name": cluster.name,
        "theme": cluster.theme,
        "description": cluster.description,
        "status": cluster.status.value,
        "members": [
            {"company_id": m.company_id, "role": m.role.value, "joined_at": m.joined_at}
            for m in cluster.members
        ],
        "created_at": cluster.created_at,
        "updated_at": cluster.updated_at,
        "closed_at": cluster.closed_at,
        "version": cluster.version,
    }


def _from_document(document: Document) -> Cluster:
    return Cluster(
        id=document["_id"],
        code=document["code"],
        name=document["name"],
        theme=document["theme"],
        description=document.get("description", ""),
        status=ClusterStatus(document["status"]),
        members=[
            Member(
                company_id=m["company_id"], role=ClusterRole(m["role"]), joined_at=m["joined_at"]
            )
            for m in document.get("members", [])
        ],
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        version=document["version"],
        closed_at=document.get("closed_at"),
    )
