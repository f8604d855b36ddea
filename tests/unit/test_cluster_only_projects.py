"""`visibility: cluster` in the domain: only the grappe's members apply, are invited, are accepted
or accept, whoever makes the request; `all_members` takes any company."""

from datetime import UTC, datetime, timedelta

import pytest

from eci_common.errors import Conflict
from eci_projects.project import Description, Kind, Project, Visibility

MEMBERS = frozenset({"lead", "member"})


def _open(visibility: Visibility) -> Project:
    project = Project.propose(
        cluster_id="k",
        lead_company_id="lead",
        description=Description(
            title="Spiral", summary="", kind=Kind.INNOVATION, visibility=visibility
        ),
        milestones=[],
    )
    project.open_call(needed=("dials",), deadline=datetime.now(UTC).date() + timedelta(days=30))
    return project


def test_an_outsider_neither_applies_nor_is_invited_to_a_cluster_only_project() -> None:
    project = _open(Visibility.CLUSTER)
    with pytest.raises(Conflict, match=r"outsider is not a member of cluster k"):
        project.apply("outsider", "", members=MEMBERS)
    with pytest.raises(Conflict, match=r"visibility: cluster"):
        project.invite("outsider", "", members=MEMBERS)
    assert project.applications == []
    assert project.invitations == []
    project.apply("member", "", members=MEMBERS)


def test_a_company_that_left_the_grappe_since_cannot_become_a_partner() -> None:
    project = _open(Visibility.CLUSTER)
    invitation = project.invite("member", "", members=MEMBERS)
    application = project.apply("member", "", members=MEMBERS)
    after_leaving = MEMBERS - {"member"}
    with pytest.raises(Conflict, match="not a member"):
        project.answer_invitation(invitation.id, accept=True, members=after_leaving)
    with pytest.raises(Conflict, match="not a member"):
        project.decide_application(application.id, accept=True, members=after_leaving)
    assert project.partners == []
    project.answer_invitation(invitation.id, accept=False, members=after_leaving)  # may decline


def test_a_project_open_to_all_members_takes_outsiders() -> None:
    project = _open(Visibility.ALL_MEMBERS)
    invitation = project.invite("outsider", "", members=MEMBERS)
    project.answer_invitation(invitation.id, accept=True, members=MEMBERS)
    assert project.partners == ["outsider"]
