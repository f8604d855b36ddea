"""The cluster aggregate (grappe d'entreprises): its description, lifecycle and members.

Members live inside the cluster's document, so that a join or a leave and its event are one
atomic write. Joining twice with the same role changes nothing; joining with another role
changes the role and is announced as a new `MemberJoined`.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from eci_common.clock import now
from eci_common.errors import Conflict, NotFound
from eci_common.events.base import EventPayload
from eci_common.events.registry import (
    ClusterClosedV1,
    ClusterCreatedV1,
    ClusterUpdatedV1,
    MemberJoinedV1,
    MemberLeftV1,
)


class ClusterStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ClusterRole(StrEnum):
    MEMBER = "member"
    ANIMATOR = "animator"


@dataclass(frozen=True)
class Member:
    company_id: str
    role: ClusterRole
    joined_at: datetime


@dataclass
class Cluster:
    """A cluster of companies cooperating on projects around one theme."""

    id: str
    code: str
    name: str
    theme: str
    description: str
    status: ClusterStatus
    members: list[Member]
    created_at: datetime
    updated_at: datetime
    version: int = 1
    closed_at: datetime | None = None
    pending: list[EventPayload] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, *, code: str, name: str, theme: str, description: str) -> "Cluster":
        at = now()
        cluster = cls(
            id=str(uuid.uuid4()),
            code=code,
            name=name,
            theme=theme,
            description=description,
            status=ClusterStatus.OPEN,
            members=[],
            created_at=at,
            updated_at=at,
        )
        cluster.pending.append(
            ClusterCreatedV1(
                cluster_id=cluster.id,
                version=1,
                code=code,
                name=name,
                theme=theme,
                description=description,
                created_at=at,
            )
        )
        return cluster

    def update(self, *, name: str | None, theme: str | None, description: str | None) -> list[str]:
        self._require_open()
        wanted = {"name": name, "theme": theme, "description": description}
        changed = sorted(k for k, v in wanted.items() if v is not None and v != getattr(self, k))
        if not changed:
            return []
        for key in changed:
            setattr(self, key, wanted[key])
        self._bump()
        self.pending.append(
            ClusterUpdatedV1(
                cluster_id=self.id,
                version=self.version,
                name=self.name,
                theme=self.theme,
                description=self.description,
                changed_fields=changed,
                updated_at=self.updated_at,
            )
        )
        return changed

    def close(self) -> None:
        self._require_open()
        self.status = ClusterStatus.CLOSED
        self._bump()
        self.closed_at = self.updated_at
        self.pending.append(
            ClusterClosedV1(cluster_id=self.id, version=self.version, closed_at=self.updated_at)
        )

    def member(self, company_id: str) -> Member | None:
        return next((m for m in self.members if m.company_id == company_id), None)

    def join(self, company_id: str, role: ClusterRole) -> bool:
        """True if this changed the cluster (a new member, or a new role)."""
        self._require_open()
        existing = self.member(company_id)
        if existing is not None and existing.role is role:
            return False
        self._bump()
        joined = Member(company_id=company_id, role=role, joined_at=self.updated_at)
        self.members = [m for m in self.members if m.company_id != company_id] + [joined]
        self.pending.append(
            MemberJoinedV1(
                cluster_id=self.id,
                version=self.version,
                company_id=company_id,
                role=role.value,
                joined_at=self.updated_at,
            )
        )
        return True

    def leave(self, company_id: str, reason: Literal["left", "erased"] = "left") -> None:
        if self.member(company_id) is None:
            raise NotFound(f"company {company_id} is not a member of cluster {self.code}")
        self._bump()
        self.members = [m for m in self.members if m.company_id != company_id]
        self.pending.append(
            MemberLeftV1(
                cluster_id=self.id,
                version=self.version,
                company_id=company_id,
                reason=reason,
                left_at=self.updated_at,
            )
        )

    def _require_open(self) -> None:
        if self.status is ClusterStatus.CLOSED:
            raise Conflict(f"cluster {self.code} is closed")

    def _bump(self) -> None:
        self.version += 1
        self.updated_at = now()
