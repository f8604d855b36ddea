"""`visibility: cluster` through the API, for every role: staff applying in an outsider's name,
a lead inviting an outsider, and a member accepting after it left the grappe all get 409, and
the outsider never sees the project."""

from collections.abc import AsyncIterator

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

CLUSTER = "cluster-1"


def contact(company: str) -> dict[str, str]:
    return bearer(Role.CONTACT, company=company)


@pytest_asyncio.fixture
async def world(
    endpoints: Endpoints, run_id: str
) -> AsyncIterator[tuple[httpx.AsyncClient, CompanyDirectory]]:
    app = create_app(projects_settings(endpoints, run_id))
    async with app.router.lifespan_context(app):
        directory: CompanyDirectory = app.state.directory
        for company_id, cluster in (("lead", CLUSTER), ("member", CLUSTER), ("outsider", None)):
            await known_company(directory, company_id, cluster=cluster)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://projects") as client:
            yield client, directory


async def _open_project(client: httpx.AsyncClient, visibility: str) -> str:
    body = {"cluster_id": CLUSTER, "lead_company_id": "lead", "title": "Cadran", "kind": "pooling"}
    created = await client.post(
        "/projects", json={**body, "visibility": visibility}, headers=contact("lead")
    )
    assert created.status_code == 201, created.text
    project_id: str = created.json()["id"]
    opened = await client.post(
        f"/projects/{project_id}/call",
        json={"needed_capabilities": ["assembly"], "deadline": "2099-01-01"},
        headers={**contact("lead"), "If-Match": created.headers["ETag"]},
    )
    assert opened.status_code == 200, opened.text
    return project_id


async def test_no_role_brings_an_outsider_into_a_cluster_only_project(
    world: tuple[httpx.AsyncClient, CompanyDirectory],
) -> None:
    client, _ = world
    project_id = await _open_project(client, "cluster")
    path = f"/projects/{project_id}"
    by_staff = await client.post(
        f"{path}/applications", json={"company_id": "outsider"}, headers=staff()
    )
    assert by_staff.status_code == 409, by_staff.text
    assert "not a member of cluster" in by_staff.json()["detail"]
    for who in (contact("lead"), staff()):
        invited = await client.post(
            f"{path}/invitations", json={"company_id": "outsider"}, headers=who
        )
        assert invited.status_code == 409, invited.text
    assert (await client.get(path, headers=contact("outsider"))).status_code == 404
    project = (await client.get(path, headers=staff())).json()
    assert project["applications"] == []
    assert project["invitations"] == []


async def test_a_member_that_left_the_grappe_cannot_accept_an_earlier_invitation(
    world: tuple[httpx.AsyncClient, CompanyDirectory],
) -> None:
    client, directory = world
    project_id = await _open_project(client, "cluster")
    path = f"/projects/{project_id}"
    invited = await client.post(
        f"{path}/invitations", json={"company_id": "member"}, headers=contact("lead")
    )
    assert invited.status_code == 201, invited.text
    await directory.apply_membership(CLUSTER, "member", 2, None)  # MemberLeft from the registry
    accepted = await client.post(
        f"{path}/invitations/{invited.json()['invitation_id']}/accept", headers=contact("member")
    )
    assert accepted.status_code == 409, accepted.text
    assert (await client.get(path, headers=staff())).json()["partners"] == []


async def test_a_project_open_to_all_members_takes_an_outsider(
    world: tuple[httpx.AsyncClient, CompanyDirectory],
) -> None:
    client, _ = world
    project_id = await _open_project(client, "all_members")
    invited = await client.post(
        f"/projects/{project_id}/invitations",
        json={"company_id": "outsider"},
        headers=contact("lead"),
    )
    assert invited.status_code == 201, invited.text
    accepted = await client.post(
        f"/projects/{project_id}/invitations/{invited.json()['invitation_id']}/accept",
        headers=contact("outsider"),
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["partners"] == ["outsider"]
