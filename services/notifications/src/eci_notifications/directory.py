"""What notifications knows of the other services, only what its rules need: company and grappe
names, memberships with roles, each project's title, lead and grappe. Built from their events,
each document guarded by the version of its aggregate. Documents never leave this module."""

from dataclasses import dataclass
from typing import Any

from pymongo.errors import DuplicateKeyError

from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, Database


@dataclass(frozen=True)
class ProjectInfo:
    """A project as the rules see it."""

    id: str
    title: str
    lead_company_id: str
    cluster_id: str


async def apply_versioned(
    collection: Collection, locks: DocumentLocks, key: str, version: int, fields: dict[str, Any]
) -> bool:
    """Stores `fields` unless the document already reflects `version` or a later one.

    Under the document's lock: FerretDB runs an update as query-then-replace, so two writers of
    one document must not overlap. A first insert relies on the unique `_id`; the update keeps
    the version it read in its filter. A write that loses a race with another process (the
    insert meets a duplicate key, the update matches nothing) reads again and compares again,
    so the newer event wins.
    """
    async with locks.hold(collection.name, key):
        while True:
            current = await collection.find_one({"_id": key}, {"version": 1})
            if current is None:
                try:
                    await collection.insert_one({"_id": key, "version": version, **fields})
                except DuplicateKeyError:
                    continue  # a concurrent first write: compare with it
                return True
            if current["version"] >= version:
                return False
            result = await collection.update_one(
                {"_id": key, "version": current["version"]},
                {"$set": {"version": version, **fields}},
            )
            if result.matched_count == 1:
                return True


class Directory:
    """The read models of notifications in MongoDB."""

    def __init__(self, database: Database, locks: DocumentLocks) -> None:
        self._companies = database["companies"]
        self._clusters = database["clusters"]
        self._memberships = database["memberships"]
        self._projects = database["projects"]
        self._locks = locks

    async def ensure_indexes(self) -> None:
        await self._memberships.create_index("cluster_id", name="by_cluster")
        await self._memberships.create_index("company_id", name="by_company")

    async def apply_company(self, company_id: str, version: int, fields: dict[str, Any]) -> bool:
        return await apply_versioned(self._companies, self._locks, company_id, version, fields)

    async def apply_cluster(self, cluster_id: str, version: int, fields: dict[str, Any]) -> bool:
        return await apply_versioned(self._clusters, self._locks, cluster_id, version, fields)

    async def apply_membership(
        self, cluster_id: str, company_id: str, version: int, role: str | None
    ) -> bool:
        """`role` None: the company left. The document stays, to guard the order of events."""
        return await apply_versioned(
            self._memberships,
            self._locks,
            f"{cluster_id}|{company_id}",
            version,
            {"cluster_id": cluster_id, "company_id": company_id, "role": role},
        )

    async def apply_project(
        self, project_id: str, version: int, *, title: str, lead_company_id: str, cluster_id: str
    ) -> bool:
        fields = {"title": title, "lead_company_id": lead_company_id, "cluster_id": cluster_id}
        return await apply_versioned(self._projects, self._locks, project_id, version, fields)

    async def company_name(self, company_id: str) -> str | None:
        found = await self._companies.find_one({"_id": company_id}, {"legal_name": 1})
        return None if found is None else found.get("legal_name")

    async def erased(self, company_ids: set[str]) -> set[str]:
        """Which of these companies were erased (their tombstone says so)."""
        # One lookup by id each: FerretDB v1 pushes an `_id` equality down to its index, not
        # an `$in`, which would scan the collection for every event.
        gone = set()
        for company_id in sorted(company_ids):
            found = await self._companies.find_one({"_id": company_id}, {"erased": 1})
            if found is not None and found.get("erased") is True:
                gone.add(company_id)
        return gone

    async def cluster_name(self, cluster_id: str) -> str | None:
        found = await self._clusters.find_one({"_id": cluster_id}, {"name": 1})
        return None if found is None else found.get("name")

    async def members(self, cluster_id: str) -> dict[str, str]:
        """Company id to role (member or animator) of the grappe's current members."""
        cursor = self._memberships.find({"cluster_id": cluster_id, "role": {"$ne": None}})
        return {document["company_id"]: document["role"] async for document in cursor}

    async def project(self, project_id: str) -> ProjectInfo | None:
        found = await self._projects.find_one({"_id": project_id})
        if found is None:
            return None
        return ProjectInfo(
            id=found["_id"],
            title=found["title"],
            lead_company_id=found["lead_company_id"],
            cluster_id=found["cluster_id"],
        )

    async def forget_company(self, company_id: str, version: int) -> None:
        """GDPR: the name goes; a tombstone keeps later, older events from bringing it back."""
        await apply_versioned(
            self._companies, self._locks, company_id, version, {"legal_name": None, "erased": True}
        )
        async with self._locks.hold(self._companies.name, company_id):
            await self._companies.update_one(
                {"_id": company_id}, {"$set": {"legal_name": None, "erased": True}}
            )
        await self._memberships.delete_many({"company_id": company_id})
