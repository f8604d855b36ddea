"""The free text of applications and invitations may name people, and `eci.projects.projects` is
kept forever where no erasure reaches: it stays in the projects service, off every event. During
the migration window both versions are written (docs/versioning.md), v1 with an empty message."""

from datetime import UTC, datetime, timedelta

from eci_common.envelope import new_event, to_record
from eci_common.events.projects import (
    ApplicationSubmittedV1,
    ApplicationSubmittedV2,
    InvitationSentV1,
    InvitationSentV2,
)
from eci_projects.project import Description, Kind, Project

APPLICATION_TEXT = "Ask Jeanne Dupont, +41 79 555 01 02, jeanne.dupont@example.ch"
INVITATION_TEXT = "Marc Rochat told us about you: marc.rochat@example.ch"
# The grappe's members: the candidates belong to it (cluster-only projects take only them).
MEMBERS = frozenset({"lead", "p1", "p2"})


def _open_project() -> Project:
    project = Project.propose(
        cluster_id="k",
        lead_company_id="lead",
        description=Description(title="Spiral", summary="", kind=Kind.INNOVATION),
        milestones=[],
    )
    project.open_call(needed=("movements",), deadline=datetime.now(UTC).date() + timedelta(days=9))
    return project


def _wire(project: Project) -> bytes:
    """Everything the outbox would publish for these changes: headers and bodies."""
    records = [to_record(new_event(event, source="/eci/projects")) for event in project.pending]
    return b"".join(r.body + repr(sorted(r.headers.items())).encode() for r in records)


def test_an_application_message_stays_off_the_events() -> None:
    project = _open_project()
    project.apply("p1", APPLICATION_TEXT, members=MEMBERS)
    assert APPLICATION_TEXT.encode() not in _wire(project)
    assert b"jeanne" not in _wire(project).lower()
    assert project.applications[0].message == APPLICATION_TEXT  # kept for the API
    v1, v2 = project.pending[-2:]
    assert isinstance(v1, ApplicationSubmittedV1)
    assert v1.message == ""
    assert isinstance(v2, ApplicationSubmittedV2)
    assert v2.has_message
    assert (v1.version, v1.application_id) == (v2.version, v2.application_id)


def test_an_invitation_message_stays_off_the_events() -> None:
    project = _open_project()
    project.invite("p2", INVITATION_TEXT, members=MEMBERS)
    assert b"rochat" not in _wire(project).lower()
    assert project.invitations[0].message == INVITATION_TEXT
    v1, v2 = project.pending[-2:]
    assert isinstance(v1, InvitationSentV1)
    assert v1.message == ""
    assert isinstance(v2, InvitationSentV2)
    assert v2.has_message


def test_without_a_message_v2_says_so() -> None:
    project = _open_project()
    project.apply("p1", "", members=MEMBERS)
    assert isinstance(project.pending[-1], ApplicationSubmittedV2)
    assert not project.pending[-1].has_message
