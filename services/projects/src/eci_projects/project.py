"""The project aggregate: description, call for partners, applications, invitations, partners,
milestones and lifecycle; each change appends the event it causes to `pending`. No I/O."""

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from eci_common.clock import now
from eci_common.errors import Conflict, NotFound
from eci_common.events.base import EventPayload
from eci_common.events.projects import (
    ApplicationSubmittedV1,
    ApplicationSubmittedV2,
    CallForPartnersClosedV1,
    CallForPartnersOpenedV1,
    InvitationAcceptedV1,
    InvitationDeclinedV1,
    InvitationSentV1,
    InvitationSentV2,
    MilestoneReachedV1,
    PartnerAcceptedV1,
    PartnerDeclinedV1,
    ProjectProposedV1,
    ProjectStatusChangedV1,
    ProjectUpdatedV1,
)
from eci_projects.lifecycle import FINAL, Status, check_transition


class Kind(StrEnum):
    NEW_PRODUCT = "new_product"
    NEW_PROCESS = "new_process"
    INNOVATION = "innovation"
    POOLING = "pooling"


class Visibility(StrEnum):
    CLUSTER = "cluster"
    ALL_MEMBERS = "all_members"


class Decision(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


@dataclass(frozen=True)
class Description:
    """What the lead says of the project."""

    title: str
    summary: str
    kind: Kind
    needed_capabilities: tuple[str, ...] = ()
    visibility: Visibility = Visibility.CLUSTER
    budget_eur: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None


@dataclass
class Call:
    needed_capabilities: tuple[str, ...]
    deadline: date
    opened_at: datetime
    open: bool = True


@dataclass
class Request:
    """An application (company → lead) or an invitation (lead → company)."""

    id: str
    company_id: str
    message: str
    at: datetime
    decision: Decision = Decision.PENDING


@dataclass
class Milestone:
    id: str
    title: str
    due_on: date | None
    reached_at: datetime | None = None


@dataclass
class Project:
    """A collaborative project led by one company inside one cluster."""

    id: str
    cluster_id: str
    lead_company_id: str
    description: Description
    status: Status
    proposed_at: datetime
    updated_at: datetime
    version: int = 1
    call: Call | None = None
    applications: list[Request] = field(default_factory=list)
    invitations: list[Request] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    pending: list[EventPayload] = field(default_factory=list, repr=False)

    @classmethod
    def propose(
        cls, *, cluster_id: str, lead_company_id: str, description: Description,
        milestones: list[tuple[str, date | None]],
    ) -> "Project":  # fmt: skip
        at = now()
        project = cls(
            id=str(uuid.uuid4()),
            cluster_id=cluster_id,
            lead_company_id=lead_company_id,
            description=_normalised(description),
            status=Status.DRAFT,
            proposed_at=at,
            updated_at=at,
            milestones=[Milestone(str(uuid.uuid4()), title, due) for title, due in milestones],
        )
        project.pending.append(ProjectProposedV1(**project._state(), proposed_at=at))
        return project

    # -- description ------------------------------------------------------------------------

    def update(self, changes: dict[str, Any]) -> list[str]:
        self._require_not_final()
        candidate = _normalised(Description(**{**self.description.__dict__, **changes}))
        changed = sorted(
            k for k in changes if getattr(candidate, k) != getattr(self.description, k)
        )
        if not changed:
            return []
        self.description = candidate
        self._bump()
        self.pending.append(
            ProjectUpdatedV1(**self._state(), changed_fields=changed, updated_at=self.updated_at)
        )
        return changed

    # -- lifecycle --------------------------------------------------------------------------

    def open_call(self, *, needed: tuple[str, ...], deadline: date) -> None:
        """Draft → open for partners, with a call naming the capabilities sought."""
        if deadline <= now().date():
            raise Conflict("the deadline of a call must be in the future")
        self._move(Status.OPEN_FOR_PARTNERS)
        self.call = Call(tuple(sorted(set(needed))), deadline, self.updated_at)
        self.pending.append(
            CallForPartnersOpenedV1(
                project_id=self.id,
                version=self.version,
                cluster_id=self.cluster_id,
                lead_company_id=self.lead_company_id,
                title=self.description.title,
                needed_capabilities=list(self.call.needed_capabilities),
                deadline=deadline,
                visibility=self.description.visibility.value,
                opened_at=self.updated_at,
            )
        )

    def close_call(self) -> None:
        if self.call is None or not self.call.open:
            raise Conflict("no open call for partners")
        self._close_call("closed_by_lead", bump=True)

    def activate(self) -> None:
        """Open for partners → active; needs at least one partner; the call closes."""
        if not self.partners:
            raise Conflict("a project becomes active with at least one partner")
        self._move(Status.ACTIVE)
        if self.call is not None and self.call.open:
            self._close_call("project_activated", bump=False)

    def complete(self) -> None:
        self._move(Status.COMPLETED)

    def cancel(self) -> None:
        self._move(Status.CANCELLED)
        if self.call is not None and self.call.open:
            self._close_call("project_cancelled", bump=False)

    # -- applications -----------------------------------------------------------------------

    def apply(self, company_id: str, message: str, *, members: Collection[str]) -> Request:
        """`members`: the grappe's members now; a cluster-only project takes only them."""
        if self.status is not Status.OPEN_FOR_PARTNERS or self.call is None or not self.call.open:
            raise Conflict("the project has no open call for partners")
        if now().date() > self.call.deadline:
            raise Conflict(f"the call closed on {self.call.deadline.isoformat()}")
        self._require_candidate(company_id, members)
        if any(
            a.company_id == company_id and a.decision is Decision.PENDING for a in self.applications
        ):
            raise Conflict(f"company {company_id} already has a pending application")
        application = Request(str(uuid.uuid4()), company_id, message, now())
        self.applications.append(application)
        self._bump()
        # Both versions during the migration window (docs/versioning.md); the message stays
        # here, off the topic: v1 carries it empty, v2 only says there is one.
        fields: dict[str, Any] = {
            "project_id": self.id,
            "version": self.version,
            "application_id": application.id,
            "company_id": company_id,
            "lead_company_id": self.lead_company_id,
            "submitted_at": application.at,
        }
        self.pending.append(ApplicationSubmittedV1(**fields))
        self.pending.append(ApplicationSubmittedV2(**fields, has_message=bool(message)))
        return application

    def decide_application(
        self, application_id: str, *, accept: bool, members: Collection[str]
    ) -> None:
        self._require_not_final()
        application = _find(self.applications, application_id, "application")
        if application.decision is not Decision.PENDING:
            raise Conflict(f"application {application_id} was already {application.decision.value}")
        if accept:
            self._require_candidate(application.company_id, members)
        application.decision = Decision.ACCEPTED if accept else Decision.DECLINED
        self._bump()
        if accept:
            self.partners.append(application.company_id)
            self.pending.append(
                PartnerAcceptedV1(
                    project_id=self.id,
                    version=self.version,
                    company_id=application.company_id,
                    via="application",
                    reference_id=application.id,
                    accepted_at=self.updated_at,
                )
            )
        else:
            self.pending.append(
                PartnerDeclinedV1(
                    project_id=self.id,
                    version=self.version,
                    company_id=application.company_id,
                    application_id=application.id,
                    declined_at=self.updated_at,
                )
            )

    # -- invitations ------------------------------------------------------------------------

    def invite(self, company_id: str, message: str, *, members: Collection[str]) -> Request:
        if self.status not in (Status.OPEN_FOR_PARTNERS, Status.ACTIVE):
            raise Conflict(f"a project {self.status.value} sends no invitations")
        self._require_candidate(company_id, members)
        if any(
            i.company_id == company_id and i.decision is Decision.PENDING for i in self.invitations
        ):
            raise Conflict(f"company {company_id} already has a pending invitation")
        invitation = Request(str(uuid.uuid4()), company_id, message, now())
        self.invitations.append(invitation)
        self._bump()
        # Both versions during the migration window, the message off the topic (see apply).
        fields: dict[str, Any] = {
            "project_id": self.id,
            "version": self.version,
            "invitation_id": invitation.id,
            "company_id": company_id,
            "sent_at": invitation.at,
        }
        self.pending.append(InvitationSentV1(**fields))
        self.pending.append(InvitationSentV2(**fields, has_message=bool(message)))
        return invitation

    def answer_invitation(
        self, invitation_id: str, *, accept: bool, members: Collection[str]
    ) -> None:
        """Accepting checks the grappe's members now: a company that left the grappe since its
        invitation no longer joins a cluster-only project."""
        self._require_not_final()
        invitation = _find(self.invitations, invitation_id, "invitation")
        if invitation.decision is not Decision.PENDING:
            raise Conflict(f"invitation {invitation_id} was already {invitation.decision.value}")
        if accept:
            self._require_candidate(invitation.company_id, members)
        invitation.decision = Decision.ACCEPTED if accept else Decision.DECLINED
        self._bump()
        event_type = InvitationAcceptedV1 if accept else InvitationDeclinedV1
        at = {"accepted_at" if accept else "declined_at": self.updated_at}
        self.pending.append(
            event_type(
                project_id=self.id,
                version=self.version,
                invitation_id=invitation.id,
                company_id=invitation.company_id,
                **at,
            )
        )
        if accept:
            self.partners.append(invitation.company_id)
            self.pending.append(
                PartnerAcceptedV1(
                    project_id=self.id,
                    version=self.version,
                    company_id=invitation.company_id,
                    via="invitation",
                    reference_id=invitation.id,
                    accepted_at=self.updated_at,
                )
            )

    # -- milestones -------------------------------------------------------------------------

    def reach_milestone(self, milestone_id: str) -> Milestone:
        if self.status is not Status.ACTIVE:
            raise Conflict("milestones are reached by active projects only")
        milestone = next((m for m in self.milestones if m.id == milestone_id), None)
        if milestone is None:
            raise NotFound(f"project {self.id} has no milestone {milestone_id}")
        if milestone.reached_at is not None:
            raise Conflict(f"milestone {milestone.title!r} was already reached")
        self._bump()
        milestone.reached_at = self.updated_at
        self.pending.append(
            MilestoneReachedV1(
                project_id=self.id,
                version=self.version,
                milestone_id=milestone.id,
                title=milestone.title,
                lead_company_id=self.lead_company_id,
                partner_company_ids=list(self.partners),
                reached_at=self.updated_at,
            )
        )
        return milestone

    def add_milestone(self, title: str, due_on: date | None) -> Milestone:
        self._require_not_final()
        milestone = Milestone(str(uuid.uuid4()), title, due_on)
        self.milestones.append(milestone)
        self._bump()
        self.pending.append(
            ProjectUpdatedV1(
                **self._state(), changed_fields=["milestones"], updated_at=self.updated_at
            )
        )
        return milestone

    # -- erasure ----------------------------------------------------------------------------

    def forget(self, company_id: str) -> bool:
        """GDPR: the messages an erased company wrote or received may name people; they go.
        Its id stays, so the project's history keeps its shape. True if anything changed."""
        changed = False
        for request in (*self.applications, *self.invitations):
            if request.company_id == company_id and request.message:
                request.message = ""
                changed = True
        return changed

    # -- helpers ----------------------------------------------------------------------------

    def _require_candidate(self, company_id: str, members: Collection[str]) -> None:
        """Who may become a partner, whoever asks (staff included): never the lead, never twice,
        and for a cluster-only project a member of the grappe at the time of the step."""
        if company_id == self.lead_company_id:
            raise Conflict("the lead company is not a candidate partner of its own project")
        if company_id in self.partners:
            raise Conflict(f"company {company_id} is already a partner")
        if self.description.visibility is Visibility.CLUSTER and company_id not in members:
            raise Conflict(
                f"company {company_id} is not a member of cluster {self.cluster_id}, and this "
                "project is open to the cluster's members only (visibility: cluster)"
            )

    def _require_not_final(self) -> None:
        if self.status in FINAL:
            raise Conflict(f"the project is {self.status.value}")

    def _move(self, wanted: Status) -> None:
        check_transition(self.status, wanted)
        before = self.status
        self.status = wanted
        self._bump()
        self.pending.append(
            ProjectStatusChangedV1(
                project_id=self.id,
                version=self.version,
                from_status=before.value,
                to_status=wanted.value,
                partner_company_ids=list(self.partners),
                changed_at=self.updated_at,
            )
        )

    def _close_call(self, reason: str, *, bump: bool) -> None:
        assert self.call is not None  # noqa: S101 - checked by every caller
        self.call.open = False
        if bump:
            self._bump()
        self.pending.append(
            CallForPartnersClosedV1(
                project_id=self.id,
                version=self.version,
                reason=reason,  # type: ignore[arg-type]  # one of the three literals
                closed_at=self.updated_at,
            )
        )

    def _bump(self) -> None:
        self.version += 1
        self.updated_at = now()

    def _state(self) -> dict[str, Any]:
        d = self.description
        return {
            "project_id": self.id,
            "version": self.version,
            "cluster_id": self.cluster_id,
            "lead_company_id": self.lead_company_id,
            "title": d.title,
            "summary": d.summary,
            "kind": d.kind.value,
            "needed_capabilities": list(d.needed_capabilities),
            "visibility": d.visibility.value,
            "budget_eur": d.budget_eur,
            "starts_on": d.starts_on,
            "ends_on": d.ends_on,
        }


def _normalised(description: Description) -> Description:
    if (
        description.starts_on
        and description.ends_on
        and description.ends_on < description.starts_on
    ):
        raise Conflict("a project cannot end before it starts")
    return Description(
        **{
            **description.__dict__,
            "needed_capabilities": tuple(sorted(set(description.needed_capabilities))),
        }
    )


def _find(requests: list[Request], request_id: str, what: str) -> Request:
    found = next((r for r in requests if r.id == request_id), None)
    if found is None:
        raise NotFound(f"no {what} {request_id}")
    return found
