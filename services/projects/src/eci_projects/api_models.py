"""Request and response bodies of the projects API."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from eci_common.auth import Principal
from eci_projects.lifecycle import TRANSITIONS, Status
from eci_projects.matchmaking import Ranked
from eci_projects.project import Decision, Description, Kind, Project, Request, Visibility

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
Capability = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$", max_length=80)]
Id = Annotated[str, Field(min_length=1, max_length=64)]


def may_read_message(caller: Principal, project: Project, request: Request) -> bool:
    """An application's or invitation's text is for staff, the lead and the company it
    concerns: it may name people, so it never goes further (not on a topic either)."""
    return caller.acts_for(project.lead_company_id) or caller.acts_for(request.company_id)


class MilestoneIn(BaseModel):
    model_config = _STRICT

    title: str = Field(min_length=1, max_length=200)
    due_on: date | None = None


class ProjectCreate(BaseModel):
    model_config = _STRICT

    cluster_id: Id
    lead_company_id: Id
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field("", max_length=5000)
    kind: Kind
    needed_capabilities: list[Capability] = Field(default_factory=list, max_length=30)
    visibility: Visibility = Visibility.CLUSTER
    budget_eur: int | None = Field(None, ge=0, le=10**10)
    starts_on: date | None = None
    ends_on: date | None = None
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=50)

    def description(self) -> Description:
        return Description(
            title=self.title,
            summary=self.summary,
            kind=self.kind,
            needed_capabilities=tuple(self.needed_capabilities),
            visibility=self.visibility,
            budget_eur=self.budget_eur,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
        )


class ProjectUpdate(BaseModel):
    model_config = _STRICT

    title: str | None = Field(None, min_length=1, max_length=200)
    summary: str | None = Field(None, max_length=5000)
    kind: Kind | None = None
    needed_capabilities: list[Capability] | None = Field(None, max_length=30)
    visibility: Visibility | None = None
    budget_eur: int | None = Field(None, ge=0, le=10**10)
    starts_on: date | None = None
    ends_on: date | None = None

    def changes(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if value is None and name in (
                "title",
                "summary",
                "kind",
                "needed_capabilities",
                "visibility",
            ):
                continue
            values[name] = tuple(value) if name == "needed_capabilities" else value
        return values


class CallIn(BaseModel):
    model_config = _STRICT

    needed_capabilities: list[Capability] = Field(min_length=1, max_length=30)
    deadline: date


class StatusIn(BaseModel):
    model_config = _STRICT

    status: Status


class ApplicationIn(BaseModel):
    model_config = _STRICT

    company_id: Id
    message: str = Field("", max_length=5000)


class InvitationIn(BaseModel):
    model_config = _STRICT

    company_id: Id
    message: str = Field("", max_length=5000)


class RequestOut(BaseModel):
    id: str
    company_id: str
    message: str | None = Field(
        description="The free text, which may name people: shown to staff, the lead and the "
        "applicant or invited company only (null for anyone else). It is on no topic."
    )
    at: datetime
    decision: Decision

    @classmethod
    def of(cls, request: Request, *, with_message: bool) -> "RequestOut":
        return cls(
            id=request.id,
            company_id=request.company_id,
            message=request.message if with_message else None,
            at=request.at,
            decision=request.decision,
        )


class MilestoneOut(BaseModel):
    id: str
    title: str
    due_on: date | None
    reached_at: datetime | None


class CallOut(BaseModel):
    needed_capabilities: list[str]
    deadline: date
    opened_at: datetime
    open: bool


class ProjectPublic(BaseModel):
    id: str
    cluster_id: str
    lead_company_id: str
    title: str
    summary: str
    kind: Kind
    needed_capabilities: list[str]
    visibility: Visibility
    budget_eur: int | None
    starts_on: date | None
    ends_on: date | None
    status: Status
    allowed_transitions: list[Status]
    version: int
    proposed_at: datetime
    updated_at: datetime
    call: CallOut | None
    applications: list[RequestOut]
    invitations: list[RequestOut]
    partners: list[str]
    milestones: list[MilestoneOut]

    @classmethod
    def of(cls, p: Project, caller: Principal) -> "ProjectPublic":
        """The project as `caller` may read it: messages only for those they concern."""
        d = p.description

        def out(request: Request) -> RequestOut:
            return RequestOut.of(request, with_message=may_read_message(caller, p, request))

        return cls(
            id=p.id,
            cluster_id=p.cluster_id,
            lead_company_id=p.lead_company_id,
            title=d.title,
            summary=d.summary,
            kind=d.kind,
            needed_capabilities=list(d.needed_capabilities),
            visibility=d.visibility,
            budget_eur=d.budget_eur,
            starts_on=d.starts_on,
            ends_on=d.ends_on,
            status=p.status,
            allowed_transitions=sorted(TRANSITIONS[p.status]),
            version=p.version,
            proposed_at=p.proposed_at,
            updated_at=p.updated_at,
            call=None
            if p.call is None
            else CallOut(
                needed_capabilities=list(p.call.needed_capabilities),
                deadline=p.call.deadline,
                opened_at=p.call.opened_at,
                open=p.call.open,
            ),
            applications=[out(a) for a in p.applications],
            invitations=[out(i) for i in p.invitations],
            partners=list(p.partners),
            milestones=[MilestoneOut(**m.__dict__) for m in p.milestones],
        )


class CandidateOut(BaseModel):
    rank: int
    company_id: str
    legal_name: str | None
    region: str | None
    covered_capabilities: list[str]
    same_cluster: bool
    same_region: bool
    reasons: list[str]

    @classmethod
    def of(cls, rank: int, ranked: Ranked) -> "CandidateOut":
        return cls(
            rank=rank,
            company_id=ranked.company.id,
            legal_name=ranked.company.legal_name,
            region=ranked.company.region,
            covered_capabilities=list(ranked.covered),
            same_cluster=ranked.same_cluster,
            same_region=ranked.same_region,
            reasons=list(ranked.reasons),
        )
