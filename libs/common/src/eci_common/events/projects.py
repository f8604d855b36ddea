"""Events published by the projects service: collaborative projects inside clusters, their
calls for partners, applications, invitations, partners, milestones and lifecycle.

Every event is keyed by the project id and carries the project's `version` after the change
(or, for a ranking, the version it was computed from), so consumers apply them in order.
"""

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from eci_common import topics
from eci_common.events.base import EventPayload

EVENT_TYPE_PREFIX = "fr.horlogerie.eci.projects"

ProjectKind = Literal["new_product", "new_process", "innovation", "pooling"]
ProjectStatus = Literal["draft", "open_for_partners", "active", "completed", "cancelled"]
Visibility = Literal["cluster", "all_members"]


class _ProjectEvent(EventPayload):
    topic: ClassVar[str] = topics.PROJECTS_PROJECTS

    project_id: str = Field(description="Projects id of the project (the record key).")
    version: int = Field(ge=1, description="Version of the project after this change.")

    def partition_key(self) -> str:
        return self.project_id


class _ProjectState(_ProjectEvent):
    cluster_id: str
    lead_company_id: str
    title: str
    summary: str
    kind: ProjectKind
    needed_capabilities: list[str] = Field(default_factory=list)
    visibility: Visibility = "cluster"
    budget_eur: int | None = Field(None, ge=0)
    starts_on: date | None = None
    ends_on: date | None = None


class ProjectProposedV1(_ProjectState):
    """A company proposed a collaborative project in a cluster (as a draft)."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.project.proposed.v1"

    proposed_at: datetime


class ProjectUpdatedV1(_ProjectState):
    """A project's description changed: `changed_fields` says which, the rest is the state."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.project.updated.v1"

    changed_fields: list[str] = Field(min_length=1)
    updated_at: datetime


class ProjectStatusChangedV1(_ProjectEvent):
    """The project moved in its lifecycle (draft, open for partners, active, completed,
    cancelled)."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.project.status-changed.v1"

    from_status: ProjectStatus
    to_status: ProjectStatus
    partner_company_ids: list[str] = Field(default_factory=list)
    changed_at: datetime


class CallForPartnersOpenedV1(_ProjectEvent):
    """The lead looks for partners with these capabilities until the deadline."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.call.opened.v1"

    cluster_id: str
    lead_company_id: str
    title: str
    needed_capabilities: list[str] = Field(min_length=1)
    deadline: date
    visibility: Visibility = "cluster"
    opened_at: datetime


class CallForPartnersClosedV1(_ProjectEvent):
    """The call takes no more applications."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.call.closed.v1"

    reason: Literal["closed_by_lead", "project_activated", "project_cancelled"]
    closed_at: datetime


class ApplicationSubmittedV1(_ProjectEvent):
    """A company applied to a call for partners. Deprecated for v2: since v2 exists, `message`
    is always empty (the text may name people and this topic is kept forever)."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.application.submitted.v1"

    application_id: str
    company_id: str
    lead_company_id: str
    message: str = ""
    submitted_at: datetime


class ApplicationSubmittedV2(_ProjectEvent):
    """A company applied to a call for partners. Its message, which may name people, is not on
    the topic: the lead and the applicant read it in the project (`GET /projects/{id}`)."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.application.submitted.v2"

    application_id: str
    company_id: str
    lead_company_id: str
    has_message: bool = Field(
        False, description="The applicant wrote a message (readable through the projects API)."
    )
    submitted_at: datetime


class PartnerAcceptedV1(_ProjectEvent):
    """The lead accepted a company as partner (an application, or an invitation accepted)."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.partner.accepted.v1"

    company_id: str
    via: Literal["application", "invitation"]
    reference_id: str = Field(description="The application or invitation id.")
    accepted_at: datetime


class PartnerDeclinedV1(_ProjectEvent):
    """The lead declined an application."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.partner.declined.v1"

    company_id: str
    application_id: str
    declined_at: datetime


class InvitationSentV1(_ProjectEvent):
    """The lead invited a company to become a partner. Deprecated for v2: since v2 exists,
    `message` is always empty (the text may name people and this topic is kept forever)."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.invitation.sent.v1"

    invitation_id: str
    company_id: str
    message: str = ""
    sent_at: datetime


class InvitationSentV2(_ProjectEvent):
    """The lead invited a company to become a partner. Its message, which may name people, is
    not on the topic: the lead and the invited company read it in the project
    (`GET /projects/{id}`)."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.invitation.sent.v2"

    invitation_id: str
    company_id: str
    has_message: bool = Field(
        False, description="The lead wrote a message (readable through the projects API)."
    )
    sent_at: datetime


class InvitationAcceptedV1(_ProjectEvent):
    """The invited company accepted; it is a partner from now on."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.invitation.accepted.v1"

    invitation_id: str
    company_id: str
    accepted_at: datetime


class InvitationDeclinedV1(_ProjectEvent):
    """The invited company declined."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.invitation.declined.v1"

    invitation_id: str
    company_id: str
    declined_at: datetime


class MilestoneReachedV1(_ProjectEvent):
    """A milestone of an active project was reached; its partners are to hear of it."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.milestone.reached.v1"

    milestone_id: str
    title: str
    lead_company_id: str
    partner_company_ids: list[str] = Field(default_factory=list)
    reached_at: datetime


class Candidate(BaseModel):
    """One company ranked for a call, with why it ranks there."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    company_id: str
    rank: int = Field(ge=1)
    covered_capabilities: list[str]
    same_cluster: bool
    same_region: bool
    reasons: list[str]


class CandidatesRankedV1(_ProjectEvent):
    """Matchmaking for an open call: the best candidate partners, best first."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.call.candidates-ranked.v1"

    cluster_id: str
    needed_capabilities: list[str]
    candidates: list[Candidate]
    ranked_at: datetime
