"""Who may see and manage projects, for each role, allowed and denied: a lead manages only its
projects, a company applies and answers only in its own name, and a private project of others
answers exactly like a missing one (404)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from eci_common.auth import Role
from eci_projects.main import create_app
from eci_projects.read_model import CompanyDirectory
from support.auth import bearer, staff
from support.endpoints import Endpoints

from .conftest import known_company, projects_settings

pytestmark = pytest.mark.integration

C1, C2 = "cluster-1", "cluster-2"
MEMBERS = {"lead": C1, "partner": C1, "member2": C1, "elsewhere": C2, "outsider": None}


def as_(who: str) -> dict[str, str]:
    if who == "staff":
        return staff()
    if who == "anonymous":
        return {}
    if who == "integrator":
        return bearer(Role.INTEGRATOR)
    if who == "animator_c1":
        return bearer(Role.ANIMATOR, company="outsider", clusters=(C1,))
    if who == "animator_c2":
        return bearer(Role.ANIMATOR, company="elsewhere", clusters=(C2,))
    return bearer(Role.CONTACT, company=who)


@dataclass
class Projects:
    client: httpx.AsyncClient
    private: str  # visibility cluster, open for partners
    draft: str  # visibility cluster, still a draft
    open_to_all: str  # visibility all_members, open for partners

    async def etag(self, project_id: str) -> str:
        return (await self.client.get(f"/projects/{project_id}", headers=staff())).headers["ETag"]


async def _seed_directory(directory: CompanyDirectory) -> None:
    for company_id, cluster in MEMBERS.items():
        await known_company(directory, company_id, cluster=cluster)


async def _project(client: httpx.AsyncClient, *, visibility: str, open_call: bool) -> str:
    body = {
        "cluster_id": C1,
        "lead_company_id": "lead",
        "title": f"Projet {visibility}",
        "kind": "pooling",
        "visibility": visibility,
    }
    created = await client.post("/projects", json=body, headers=as_("lead"))
    assert created.status_code == 201, created.text
    project_id: str = created.json()["id"]
    if open_call:
        opened = await client.post(
            f"/projects/{project_id}/call",
            json={"needed_capabilities": ["assembly"], "deadline": "2099-01-01"},
            headers={**as_("lead"), "If-Match": created.headers["ETag"]},
        )
        assert opened.status_code == 200, opened.text
    return project_id


@pytest_asyncio.fixture
async def projects(endpoints: Endpoints, run_id: str) -> AsyncIterator[Projects]:
    settings = projects_settings(endpoints, run_id)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await _seed_directory(app.state.directory)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://projects") as client:
            yield Projects(
                client,
                private=await _project(client, visibility="cluster", open_call=True),
                draft=await _project(client, visibility="cluster", open_call=False),
                open_to_all=await _project(client, visibility="all_members", open_call=True),
            )


async def test_a_private_project_of_others_answers_like_a_missing_one(projects: Projects) -> None:
    expectations = {
        "private": {
            "staff": 200, "lead": 200, "partner": 200, "animator_c1": 200,
            "outsider": 404, "elsewhere": 404, "animator_c2": 404, "integrator": 404,
            "anonymous": 401,
        },
        "draft": {
            "staff": 200, "lead": 200, "animator_c1": 200,
            "partner": 404, "outsider": 404, "integrator": 404,
        },
        "open_to_all": {"outsider": 200, "elsewhere": 200, "integrator": 200, "partner": 200},
    }  # fmt: skip
    for attribute, by_role in expectations.items():
        project_id = getattr(projects, attribute)
        for who, expected in by_role.items():
            response = await projects.client.get(f"/projects/{project_id}", headers=as_(who))
            assert response.status_code == expected, (attribute, who, response.text)
    missing = await projects.client.get("/projects/no-such-project", headers=as_("outsider"))
    hidden = await projects.client.get(f"/projects/{projects.private}", headers=as_("outsider"))
    assert hidden.json()["detail"].replace(projects.private, "X") == missing.json()[
        "detail"
    ].replace("no-such-project", "X")


async def test_lists_show_only_what_the_caller_may_see(projects: Projects) -> None:
    seen = {}
    for who in ("staff", "partner", "outsider", "integrator", "animator_c1"):
        response = await projects.client.get("/projects", headers=as_(who))
        assert response.status_code == 200
        seen[who] = {p["id"] for p in response.json()}
    every = {projects.private, projects.draft, projects.open_to_all}
    assert seen["staff"] == every
    assert seen["animator_c1"] == every
    assert seen["partner"] == {projects.private, projects.open_to_all}
    assert seen["outsider"] == {projects.open_to_all}
    assert seen["integrator"] == {projects.open_to_all}


async def test_a_company_proposes_only_in_its_own_name(projects: Projects) -> None:
    body = {"cluster_id": C1, "lead_company_id": "lead", "title": "Cadrans", "kind": "innovation"}
    for who, expected in (
        ("partner", 403),
        ("animator_c1", 403),
        ("integrator", 403),
        ("anonymous", 401),
        ("lead", 201),
        ("staff", 201),
    ):
        response = await projects.client.post("/projects", json=body, headers=as_(who))
        assert response.status_code == expected, (who, response.text)


async def test_a_lead_manages_only_its_projects(projects: Projects) -> None:
    path = f"/projects/{projects.private}"
    for who, expected in (("partner", 403), ("animator_c1", 403), ("outsider", 404)):
        changed = await projects.client.patch(
            path,
            json={"summary": "not mine"},
            headers={**as_(who), "If-Match": await projects.etag(projects.private)},
        )
        assert changed.status_code == expected, (who, changed.text)
        milestone = await projects.client.post(
            f"{path}/milestones",
            json={"title": "Prototype"},
            headers={**as_(who), "If-Match": await projects.etag(projects.private)},
        )
        assert milestone.status_code == expected, (who, milestone.text)
        assert (
            await projects.client.get(f"{path}/candidates", headers=as_(who))
        ).status_code == expected
    by_lead = await projects.client.patch(
        path,
        json={"summary": "Ligne partagée"},
        headers={**as_("lead"), "If-Match": await projects.etag(projects.private)},
    )
    assert by_lead.status_code == 200, by_lead.text
    assert (await projects.client.get(f"{path}/candidates", headers=as_("lead"))).status_code == 200


async def test_applications_in_ones_own_name_decided_by_the_lead(projects: Projects) -> None:
    path = f"/projects/{projects.private}/applications"
    in_another_name = await projects.client.post(
        path, json={"company_id": "member2"}, headers=as_("partner")
    )
    assert in_another_name.status_code == 403
    unseen = await projects.client.post(
        path, json={"company_id": "outsider"}, headers=as_("outsider")
    )
    assert unseen.status_code == 404
    applied = await projects.client.post(
        path, json={"company_id": "partner", "message": "Nous savons faire"}, headers=as_("partner")
    )
    assert applied.status_code == 201, applied.text
    application_id = applied.json()["application_id"]
    for who, expected in (("partner", 403), ("member2", 403), ("lead", 200)):
        response = await projects.client.post(f"{path}/{application_id}/accept", headers=as_(who))
        assert response.status_code == expected, (who, response.text)
    assert (
        "partner"
        in (
            await projects.client.get(f"/projects/{projects.private}", headers=as_("partner"))
        ).json()["partners"]
    )


async def test_invitations_sent_by_the_lead_answered_by_the_invited(projects: Projects) -> None:
    path = f"/projects/{projects.private}/invitations"
    not_lead = await projects.client.post(
        path, json={"company_id": "member2"}, headers=as_("partner")
    )
    assert not_lead.status_code == 403
    invited = await projects.client.post(path, json={"company_id": "member2"}, headers=as_("lead"))
    assert invited.status_code == 201, invited.text
    invitation_id = invited.json()["invitation_id"]
    for who, expected in (("partner", 403), ("lead", 403), ("outsider", 404), ("member2", 200)):
        response = await projects.client.post(f"{path}/{invitation_id}/accept", headers=as_(who))
        assert response.status_code == expected, (who, response.text)
    # Once it is a partner, the invited company sees the project.
    assert (
        await projects.client.get(f"/projects/{projects.private}", headers=as_("member2"))
    ).status_code == 200


async def test_the_read_model_is_readable_by_every_role_but_not_anonymously(
    projects: Projects,
) -> None:
    for who in ("staff", "partner", "outsider", "integrator", "animator_c2"):
        assert (await projects.client.get("/companies/lead", headers=as_(who))).status_code == 200
    assert (await projects.client.get("/companies/lead")).status_code == 401
