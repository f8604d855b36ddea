"""Projects rules over the real database, with a read model written directly (as registry events
would): who may lead, apply and be invited, versions, and each error status."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from eci_projects.main import create_app
from eci_projects.read_model import CompanyDirectory
from support.auth import staff
from support.endpoints import Endpoints

from .conftest import known_company, projects_settings

pytestmark = pytest.mark.integration

CLUSTER = "cluster-1"


@pytest_asyncio.fixture
async def app(endpoints: Endpoints, run_id: str) -> AsyncIterator[FastAPI]:
    settings = projects_settings(endpoints, run_id)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        directory: CompanyDirectory = application.state.directory
        for company_id, status, member in (
            ("lead", "active", True),
            ("partner", "active", True),
            ("outsider", "active", False),
            ("paused", "deactivated", True),
        ):
            await known_company(
                directory, company_id, status=status, cluster=CLUSTER if member else None
            )
        yield application


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://projects", headers=staff()
    ) as client:
        yield client


def _body(**changes: object) -> dict[str, object]:
    return {
        "cluster_id": CLUSTER,
        "lead_company_id": "lead",
        "title": "Ligne d'assemblage partagée",
        "kind": "pooling",
        **changes,
    }


async def _open(client: httpx.AsyncClient) -> str:
    project = (await client.post("/projects", json=_body())).json()
    url = f"/projects/{project['id']}"
    opened = await client.post(
        f"{url}/call",
        json={"needed_capabilities": ["assembly"], "deadline": "2099-01-01"},
        headers={"If-Match": '"1"'},
    )
    assert opened.status_code == 200, opened.text
    return url


async def test_who_may_lead(client: httpx.AsyncClient) -> None:
    assert (await client.post("/projects", json=_body())).status_code == 201
    assert (
        await client.post("/projects", json=_body(lead_company_id="outsider"))
    ).status_code == 409
    assert (await client.post("/projects", json=_body(lead_company_id="paused"))).status_code == 409
    assert (await client.post("/projects", json=_body(lead_company_id="ghost"))).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "hobby"}, "kind"),
        ({"title": ""}, "title"),
        ({"needed_capabilities": ["Not A Code"]}, "needed_capabilities"),
        ({"budget_eur": -1}, "budget_eur"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_input_gets_422_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    response = await client.post("/projects", json=_body(**change))
    assert response.status_code == 422
    assert field in {str(p) for e in response.json()["detail"] for p in e["loc"]}


async def test_versions_guard_every_change_by_the_lead(client: httpx.AsyncClient) -> None:
    project = (await client.post("/projects", json=_body())).json()
    url = f"/projects/{project['id']}"
    assert (await client.patch(url, json={"title": "Autre"})).status_code == 428
    assert (
        await client.patch(url, json={"title": "Autre"}, headers={"If-Match": '"9"'})
    ).status_code == 412
    ok = await client.patch(url, json={"title": "Autre"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.headers["ETag"] == '"2"'
    past = await client.post(
        f"{url}/call",
        json={"needed_capabilities": ["assembly"], "deadline": "2000-01-01"},
        headers={"If-Match": '"2"'},
    )
    assert past.status_code == 409
    illegal = await client.post(
        f"{url}/status", json={"status": "active"}, headers={"If-Match": '"2"'}
    )
    assert illegal.status_code == 409
    assert "cancelled, open_for_partners" in illegal.json()["detail"]


async def test_who_may_apply_and_be_invited(client: httpx.AsyncClient) -> None:
    url = await _open(client)
    assert (
        await client.post(f"{url}/applications", json={"company_id": "lead"})
    ).status_code == 409
    assert (
        await client.post(f"{url}/applications", json={"company_id": "paused"})
    ).status_code == 409
    assert (
        await client.post(f"{url}/applications", json={"company_id": "ghost"})
    ).status_code == 404
    # The project is cluster-only (the default): an outsider neither applies nor is invited.
    for route in ("applications", "invitations"):
        outsider = await client.post(f"{url}/{route}", json={"company_id": "outsider"})
        assert outsider.status_code == 409, outsider.text
    applied = await client.post(f"{url}/applications", json={"company_id": "partner"})
    assert applied.status_code == 201
    assert (
        await client.post(f"{url}/applications", json={"company_id": "partner"})
    ).status_code == 409
    assert (
        await client.post(f"{url}/invitations", json={"company_id": "paused"})
    ).status_code == 409
    invited = await client.post(f"{url}/invitations", json={"company_id": "partner"})
    assert invited.status_code == 201
    accepted = await client.post(f"{url}/invitations/{invited.json()['invitation_id']}/accept")
    assert accepted.json()["partners"] == ["partner"]
    again = await client.post(f"{url}/invitations/{invited.json()['invitation_id']}/decline")
    assert again.status_code == 409
    assert (await client.post(f"{url}/applications/nope/accept")).status_code == 404
    assert (await client.post(f"{url}/applications/x/maybe")).status_code == 422
    assert (await client.get("/projects/unknown")).status_code == 404


async def test_a_project_open_to_all_members_takes_outsiders(client: httpx.AsyncClient) -> None:
    project = (await client.post("/projects", json=_body(visibility="all_members"))).json()
    url = f"/projects/{project['id']}"
    await client.post(
        f"{url}/call",
        json={"needed_capabilities": ["assembly"], "deadline": "2099-01-01"},
        headers={"If-Match": '"1"'},
    )
    ranked = (await client.get(f"{url}/candidates")).json()
    assert [c["company_id"] for c in ranked] == ["partner", "outsider"]  # cluster first
    assert (
        await client.post(f"{url}/applications", json={"company_id": "outsider"})
    ).status_code == 201


async def test_listing_by_cluster_status_and_company(client: httpx.AsyncClient) -> None:
    url = await _open(client)
    project_id = url.rsplit("/", 1)[1]
    found = (
        await client.get("/projects", params={"cluster_id": CLUSTER, "status": "open_for_partners"})
    ).json()
    assert project_id in {p["id"] for p in found}
    led = (await client.get("/projects", params={"company_id": "lead"})).json()
    assert project_id in {p["id"] for p in led}
    assert (await client.get("/projects", params={"status": "sleeping"})).status_code == 422
