"""Who is calling, once a token has been verified: a subject, one role and what it names.

Roles: `staff` (the association's administrators), `animator` (of the clusters listed in the
token), `contact` (of the one company named in the token) and `integrator` (read-only). What each
role may do is decided next to each use case, with the predicates of `Principal`.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from eci_common.errors import Forbidden


class Role(StrEnum):
    STAFF = "staff"
    ANIMATOR = "animator"
    CONTACT = "contact"
    INTEGRATOR = "integrator"


@dataclass(frozen=True)
class Principal:
    """The caller, as its verified token names it."""

    subject: str
    role: Role
    company_id: str | None = None
    cluster_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role is Role.STAFF

    def acts_for(self, company_id: str) -> bool:
        """Staff, or a contact or animator of this very company."""
        return self.is_staff or (
            self.role in (Role.CONTACT, Role.ANIMATOR) and self.company_id == company_id
        )

    def animates(self, cluster_id: str) -> bool:
        """Staff, or the animator of this cluster."""
        return self.is_staff or (self.role is Role.ANIMATOR and cluster_id in self.cluster_ids)

    def require_staff(self, action: str) -> None:
        if not self.is_staff:
            raise Forbidden(f"only staff may {action}")

    def require_acts_for(self, company_id: str, action: str) -> None:
        if not self.acts_for(company_id):
            raise Forbidden(f"only staff or a contact of company {company_id} may {action}")

    def require_animates(self, cluster_id: str, action: str) -> None:
        if not self.animates(cluster_id):
            raise Forbidden(f"only staff or an animator of cluster {cluster_id} may {action}")
