"""Who reads the free text of an application or invitation: staff, the lead and the company it
concerns; everyone else who sees the project gets `message: null`, in the project and in lists.
The text is on no topic (tests/unit/test_request_messages_off_topics.py), so this API is the
only way to it."""

import pytest

from . import test_authorization_projects as authorization
from .test_authorization_projects import Projects, as_

# The same world as the authorization tests: a lead, its cluster's companies, others.
projects = authorization.projects

pytestmark = pytest.mark.integration

APPLICATION_TEXT = "Demandez à Jeanne Dupont, 079 555 01 02"
INVITATION_TEXT = "Marc Rochat nous a parlé de vous"


async def _messages(projects: Projects, who: str) -> dict[str, str | None]:
    """The message of each request of the open-to-all project as `who` reads it, in the project
    and in the list (which must agree)."""
    client, project_id = projects.client, projects.open_to_all
    one = await client.get(f"/projects/{project_id}", headers=as_(who))
    assert one.status_code == 200, (who, one.text)
    listed = await client.get("/projects", headers=as_(who))
    [in_list] = [p for p in listed.json() if p["id"] == project_id]
    seen = {}
    for document in (one.json(), in_list):
        for request in document["applications"] + document["invitations"]:
            assert seen.setdefault(request["company_id"], request["message"]) == request["message"]
    return seen


async def test_a_message_is_read_only_by_those_it_concerns(projects: Projects) -> None:
    client, project_id = projects.client, projects.open_to_all
    applied = await client.post(
        f"/projects/{project_id}/applications",
        json={"company_id": "partner", "message": APPLICATION_TEXT},
        headers=as_("partner"),
    )
    assert applied.status_code == 201, applied.text
    invited = await client.post(
        f"/projects/{project_id}/invitations",
        json={"company_id": "elsewhere", "message": INVITATION_TEXT},
        headers=as_("lead"),
    )
    assert invited.status_code == 201, invited.text

    both = {"partner": APPLICATION_TEXT, "elsewhere": INVITATION_TEXT}
    assert await _messages(projects, "staff") == both
    assert await _messages(projects, "lead") == both
    assert await _messages(projects, "partner") == {"partner": APPLICATION_TEXT, "elsewhere": None}
    assert await _messages(projects, "elsewhere") == {"partner": None, "elsewhere": INVITATION_TEXT}
    # Other companies (of the cluster or not) and integrators see that there were requests,
    # not what they said.
    for who in ("member2", "outsider", "integrator"):
        assert await _messages(projects, who) == {"partner": None, "elsewhere": None}, who
