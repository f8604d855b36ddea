"""The project state machine: every legal and every illegal transition, and the rules around
calls, applications, invitations and milestones."""

from datetime import UTC, datetime, timedelta

import pytest

from eci_common.errors import Conflict, NotFound
from eci_common.events.projects import (
    ApplicationSubmittedV1,
    ApplicationSubmittedV2,
    CallForPartnersClosedV1,
    CallForPartnersOpenedV1,
    InvitationAcceptedV1,
    MilestoneReachedV1,
    PartnerAcceptedV1,
    PartnerDeclinedV1,
    ProjectProposedV1,
    ProjectStatusChangedV1,
)
from eci_projects.lifecycle import FINAL, TRANSITIONS, IllegalTransition, Status, check_transition
from eci_projects.project import Description, Kind, Project

MEMBERS = frozenset({"lead", "p1", "p2", "p3"})  # the grappe "k" of the projects below
LEGAL = [(before, after) for before, nexts in TRANSITIONS.items() for after in nexts]
ILLEGAL = [
    (before, after) for before in Status for after in Status if after not in TRANSITIONS[before]
]


def test_the_machine_is_the_one_of_the_brief() -> None:
    assert sorted((b.value, a.value) for b, a in LEGAL) == sorted(
        [
            ("draft", "open_for_partners"),
            ("draft", "cancelled"),
            ("open_for_partners", "active"),
            ("open_for_partners", "cancelled"),
            ("active", "completed"),
            ("active", "cancelled"),
        ]
    )
    assert {Status.COMPLETED, Status.CANCELLED} == FINAL
    assert len(LEGAL) + len(ILLEGAL) == len(Status) ** 2


@pytest.mark.parametrize(("before", "after"), LEGAL)
def test_legal_transition(before: Status, after: Status) -> None:
    check_transition(before, after)


@pytest.mark.parametrize(("before", "after"), ILLEGAL)
def test_illegal_transition_names_the_allowed_ones(before: Status, after: Status) -> None:
    with pytest.raises(IllegalTransition) as raised:
        check_transition(before, after)
    assert raised.value.allowed == sorted(s.value for s in TRANSITIONS[before])
    for allowed in raised.value.allowed:
        assert allowed in str(raised.value)


def _project() -> Project:
    return Project.propose(
        cluster_id="k",
        lead_company_id="lead",
        description=Description(title="Spiral", summary="", kind=Kind.INNOVATION),
        milestones=[("Prototype", None)],
    )


def _in(status: Status) -> Project:
    """A project brought to a status through legal moves only."""
    project = _project()
    if status is Status.DRAFT:
        return project
    if status is Status.CANCELLED:
        project.cancel()
        return project
    project.open_call(needed=("movements",), deadline=datetime.now(UTC).date() + timedelta(days=30))
    if status is Status.OPEN_FOR_PARTNERS:
        return project
    project.apply("p1", "hello", members=MEMBERS)
    project.decide_application(project.applications[0].id, accept=True, members=MEMBERS)
    project.activate()
    if status is Status.COMPLETED:
        project.complete()
    return project


@pytest.mark.parametrize("status", list(Status))
def test_every_status_is_reachable_and_final_ones_refuse_all(status: Status) -> None:
    project = _in(status)
    assert project.status is status
    if status in FINAL:
        with pytest.raises(Conflict):
            project.cancel()
        with pytest.raises(Conflict):
            project.update({"title": "Other"})


def test_the_journey_emits_its_events_in_order() -> None:
    project = _in(Status.ACTIVE)
    project.reach_milestone(project.milestones[0].id)
    kinds = [type(e) for e in project.pending]
    assert kinds == [
        ProjectProposedV1,
        ProjectStatusChangedV1,  # draft → open for partners
        CallForPartnersOpenedV1,
        ApplicationSubmittedV1,  # with its v2 twin during the migration window
        ApplicationSubmittedV2,
        PartnerAcceptedV1,
        ProjectStatusChangedV1,  # open for partners → active
        CallForPartnersClosedV1,
        MilestoneReachedV1,
    ]
    versions = [e.version for e in project.pending]  # type: ignore[attr-defined]
    assert versions == sorted(versions)
    milestone = project.pending[-1]
    assert isinstance(milestone, MilestoneReachedV1)
    assert milestone.partner_company_ids == ["p1"]


def test_activation_needs_a_partner() -> None:
    project = _in(Status.OPEN_FOR_PARTNERS)
    with pytest.raises(Conflict, match="partner"):
        project.activate()


def test_the_lead_never_applies_and_a_partner_joins_once() -> None:
    project = _in(Status.OPEN_FOR_PARTNERS)
    with pytest.raises(Conflict, match="lead"):
        project.apply("lead", "", members=MEMBERS)
    application = project.apply("p1", "", members=MEMBERS)
    with pytest.raises(Conflict, match="pending"):
        project.apply("p1", "again", members=MEMBERS)
    project.decide_application(application.id, accept=True, members=MEMBERS)
    with pytest.raises(Conflict, match="already"):
        project.decide_application(application.id, accept=False, members=MEMBERS)
    with pytest.raises(Conflict, match="partner"):
        project.apply("p1", "", members=MEMBERS)
    with pytest.raises(Conflict, match="partner"):
        project.invite("p1", "", members=MEMBERS)


def test_decline_and_invitations() -> None:
    project = _in(Status.OPEN_FOR_PARTNERS)
    application = project.apply("p2", "", members=MEMBERS)
    project.decide_application(application.id, accept=False, members=MEMBERS)
    assert isinstance(project.pending[-1], PartnerDeclinedV1)
    assert project.partners == []
    invitation = project.invite("p3", "join us", members=MEMBERS)
    project.answer_invitation(invitation.id, accept=True, members=MEMBERS)
    assert [type(e) for e in project.pending[-2:]] == [InvitationAcceptedV1, PartnerAcceptedV1]
    assert project.partners == ["p3"]
    with pytest.raises(NotFound):
        project.answer_invitation("nope", accept=True, members=MEMBERS)


def test_applications_need_an_open_call_before_its_deadline() -> None:
    with pytest.raises(Conflict, match="open call"):
        _in(Status.DRAFT).apply("p1", "", members=MEMBERS)
    project = _project()
    with pytest.raises(Conflict, match="future"):
        project.open_call(needed=("dials",), deadline=datetime.now(UTC).date())
    project = _in(Status.OPEN_FOR_PARTNERS)
    project.close_call()
    with pytest.raises(Conflict, match="open call"):
        project.apply("p1", "", members=MEMBERS)


def test_milestones_only_while_active_and_once() -> None:
    with pytest.raises(Conflict, match="active"):
        _in(Status.OPEN_FOR_PARTNERS).reach_milestone("x")
    project = _in(Status.ACTIVE)
    milestone = project.milestones[0]
    project.reach_milestone(milestone.id)
    with pytest.raises(Conflict, match="already"):
        project.reach_milestone(milestone.id)
    with pytest.raises(NotFound):
        project.reach_milestone("unknown")
