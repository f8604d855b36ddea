"""Registry cluster rules over the real database: create, describe, close, join, leave."""

import httpx
import pytest

pytestmark = pytest.mark.integration


async def _company(client: httpx.AsyncClient, name: str) -> str:
    response = await client.post(
        "/companies", json={"legal_name": name, "country": "CH", "roles": ["assembler"]}
    )
    assert response.status_code == 201, response.text
    company_id: str = response.json()["id"]
    return company_id


async def _cluster(client: httpx.AsyncClient, code: str = "cadrans") -> dict[str, object]:
    response = await client.post(
        "/clusters",
        json={"code": code, "name": "Grappe Cadrans", "theme": "dials", "description": "…"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_create_describe_and_close(client: httpx.AsyncClient) -> None:
    cluster = await _cluster(client)
    url = f"/clusters/{cluster['id']}"
    assert (
        await client.post("/clusters", json={"code": "cadrans", "name": "B", "theme": "dials"})
    ).status_code == 409
    assert (
        await client.post("/clusters", json={"code": "x", "name": "B", "theme": "dials"})
    ).status_code == 422
    assert (
        await client.post("/clusters", json={"code": "ok-code", "name": "B", "theme": "nope"})
    ).status_code == 422

    listed = (await client.get("/clusters", params={"code": "cadrans"})).json()["items"]
    assert [c["id"] for c in listed] == [cluster["id"]]

    assert (
        await client.patch(url, json={"name": "Grappe Cadrans et aiguilles"})
    ).status_code == 428
    renamed = await client.patch(
        url, json={"name": "Grappe Cadrans et aiguilles"}, headers={"If-Match": '"1"'}
    )
    assert renamed.status_code == 200
    assert renamed.headers["ETag"] == '"2"'
    assert (await client.post(f"{url}/close", headers={"If-Match": '"1"'})).status_code == 412
    closed = await client.post(f"{url}/close", headers={"If-Match": '"2"'})
    assert closed.json()["status"] == "closed"
    company = await _company(client, "Tardive")
    late = await client.put(f"{url}/members/{company}", json={"role": "member"})
    assert late.status_code == 409


async def test_join_is_idempotent_and_leave_ends_membership(client: httpx.AsyncClient) -> None:
    cluster = await _cluster(client)
    url = f"/clusters/{cluster['id']}"
    a = await _company(client, "Aiguilles du Doubs")
    b = await _company(client, "Boîtes Comtoises")

    first = await client.put(f"{url}/members/{a}", json={"role": "animator"})
    assert first.status_code == 200
    again = await client.put(f"{url}/members/{a}", json={"role": "animator"})
    assert again.headers["ETag"] == first.headers["ETag"]  # no change, no new version
    await client.put(f"{url}/members/{b}", json={})

    members = (await client.get(f"{url}/members")).json()
    assert {(m["legal_name"], m["role"]) for m in members} == {
        ("Aiguilles du Doubs", "animator"),
        ("Boîtes Comtoises", "member"),
    }
    of_a = (await client.get(f"/companies/{a}/clusters")).json()
    assert [c["code"] for c in of_a] == ["cadrans"]
    in_cluster = (await client.get("/companies", params={"cluster": cluster["id"]})).json()
    assert {c["id"] for c in in_cluster["items"]} == {a, b}

    assert (await client.delete(f"{url}/members/{b}")).status_code == 200
    assert (await client.delete(f"{url}/members/{b}")).status_code == 404
    assert [m["company_id"] for m in (await client.get(f"{url}/members")).json()] == [a]


async def test_only_active_registered_companies_join(client: httpx.AsyncClient) -> None:
    cluster = await _cluster(client)
    url = f"/clusters/{cluster['id']}"
    assert (await client.put(f"{url}/members/unknown", json={})).status_code == 404
    assert (await client.put("/clusters/unknown/members/x", json={})).status_code == 404
    company = await _company(client, "En Pause")
    paused = await client.post(
        f"/companies/{company}/deactivate", json={}, headers={"If-Match": '"1"'}
    )
    assert paused.status_code == 200, paused.text
    assert (await client.put(f"{url}/members/{company}", json={})).status_code == 409
    assert (await client.put(f"{url}/members/{company}", json={"role": "chief"})).status_code == 422


async def test_erasure_ends_every_membership(client: httpx.AsyncClient) -> None:
    first = await _cluster(client, "cadrans")
    second = await _cluster(client, "boitiers")
    company = await _company(client, "Oubliée")
    for cluster in (first, second):
        await client.put(f"/clusters/{cluster['id']}/members/{company}", json={})
    await client.post(f"/companies/{company}/erase")
    for cluster in (first, second):
        assert (await client.get(f"/clusters/{cluster['id']}/members")).json() == []
