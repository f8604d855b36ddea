"""Events published by the registry service: companies, clusters (grappes) and their members.

No personal data travels on the public topics: contacts (names, e-mails) travel only in
`CompanyContactsChangedV1`, on the internal compacted topic `eci.registry.contacts` that the
notifications service alone reads; phones never leave the registry. An erasure publishes an empty
contact list there, so that compaction keeps nothing personal. Company events carry the company's
public profile; each carries the aggregate's `version` after the change, so that a consumer can
apply them in order and ignore what it has already seen.
"""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from eci_common import topics
from eci_common.events.base import EventPayload

EVENT_TYPE_PREFIX = "fr.horlogerie.eci.registry"

Membership = Literal["member", "partner"]
Language = Literal["fr", "en"]
HeadcountBand = Literal["1-9", "10-49", "50-249", "250-999", "1000+"]
ClusterRole = Literal["member", "animator"]


class _CompanyEvent(EventPayload):
    topic: ClassVar[str] = topics.REGISTRY_COMPANIES

    company_id: str = Field(description="Registry id of the company (the record key).")
    version: int = Field(ge=1, description="Version of the company after this change.")

    def partition_key(self) -> str:
        return self.company_id


class _CompanyProfile(_CompanyEvent):
    legal_name: str
    siren: str | None = Field(None, description="French SIREN, absent for foreign companies.")
    country: str = Field(description="ISO 3166-1 alpha-2 country code.")
    region: str | None = None
    city: str | None = None
    website: str | None = None
    headcount_band: HeadcountBand | None = None
    membership: Membership = Field("member", description="France Horlogerie member or partner.")
    roles: list[str] = Field(default_factory=list, description="Roles in the value chain.")
    capabilities: list[str] = Field(default_factory=list, description="Capability codes.")


class CompanyRegisteredV1(_CompanyProfile):
    """A company joined the Espace Collaboratif d'Innovation's registry."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.company.registered.v1"

    registered_at: datetime


class CompanyUpdatedV1(_CompanyProfile):
    """A company's public profile changed: `changed_fields` says which, the rest is the state."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.company.updated.v1"

    changed_fields: list[str] = Field(min_length=1)
    updated_at: datetime


class CompanyDeactivatedV1(_CompanyEvent):
    """A company may no longer lead, apply or be invited, until reactivated."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.company.deactivated.v1"

    reason: str | None = None
    deactivated_at: datetime


class CompanyReactivatedV1(_CompanyEvent):
    """A deactivated company is active again."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.company.reactivated.v1"

    reactivated_at: datetime


class CompanyErasedV1(_CompanyEvent):
    """GDPR erasure: every consumer purges what it holds about this company."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.company.erased.v1"

    erased_at: datetime


class ContactV1(BaseModel):
    """A person to contact at a company, with the language they read and their consent."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    email: str
    language: Language = "fr"
    consent: bool = Field(False, description="Whether the person agreed to be contacted.")
    consent_at: datetime | None = Field(None, description="When that consent was recorded.")
    role: str | None = None


class CompanyContactsChangedV1(_CompanyEvent):
    """Internal (personal data): a company's contacts, complete, after a change. Empty once the
    company is erased. Published on a compacted topic that only notifications reads."""

    topic: ClassVar[str] = topics.REGISTRY_CONTACTS
    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.company.contacts-changed.v1"

    contacts: list[ContactV1] = Field(default_factory=list)
    changed_at: datetime


class _ClusterEvent(EventPayload):
    topic: ClassVar[str] = topics.REGISTRY_CLUSTERS

    cluster_id: str = Field(description="Registry id of the cluster (the record key).")
    version: int = Field(ge=1, description="Version of the cluster after this change.")

    def partition_key(self) -> str:
        return self.cluster_id


class ClusterCreatedV1(_ClusterEvent):
    """A cluster (grappe d'entreprises) was created around a theme."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.cluster.created.v1"

    code: str = Field(description="Short stable code, such as 'mouvements'.")
    name: str
    theme: str = Field(description="Capability theme code of the taxonomy.")
    description: str = ""
    created_at: datetime


class ClusterUpdatedV1(_ClusterEvent):
    """A cluster's description changed: `changed_fields` says which, the rest is the state."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.cluster.updated.v1"

    name: str
    theme: str
    description: str = ""
    changed_fields: list[str] = Field(min_length=1)
    updated_at: datetime


class ClusterClosedV1(_ClusterEvent):
    """A cluster no longer takes members or projects."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.cluster.closed.v1"

    closed_at: datetime


class MemberJoinedV1(_ClusterEvent):
    """A company joined a cluster, as a member or as its animator."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.cluster.member-joined.v1"

    company_id: str
    role: ClusterRole
    joined_at: datetime


class MemberLeftV1(_ClusterEvent):
    """A company left a cluster (by its own choice, or because it was erased)."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.cluster.member-left.v1"

    company_id: str
    reason: Literal["left", "erased"] = "left"
    left_at: datetime
