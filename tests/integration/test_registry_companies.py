"""Registry company rules over the real database: each status the API can answer."""

import httpx
import pytest

from eci_common.mongo import MongoClient

pytestmark = pytest.mark.integration

PROFILE = {
    "legal_name": "Manufacture du Haut-Doubs",
    "siren": "732829320",
    "country": "FR",
    "region": "Bourgogne-Franche-Comté",
    "city": "Morteau",
    "website": "https://haut-doubs.example",
    "headcount_band": "50-249",
    "membership": "member",
    "roles": ["watch_brand", "movement_maker"],
    "capabilities": ["movements", "assembly"],
    "contacts": [
        {
            "name": "Claire Vuillemin",
            "role": "Directrice R&D",
            "email": "claire.vuillemin@haut-doubs.example",
            "phone": "+33 3 81 00 00 01",
            "language": "fr",
            "consent": True,
        }
    ],
}


async def _register(client: httpx.AsyncClient, **changes: object) -> dict[str, object]:
    response = await client.post("/companies", json={**PROFILE, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_full_profile_is_stored_and_served_with_dated_consent(
    client: httpx.AsyncClient,
) -> None:
    company = await _register(client)
    response = await client.get(f"/companies/{company['id']}")
    body = response.json()
    assert body["website"] == "https://haut-doubs.example/"
    assert body["headcount_band"] == "50-249"
    assert body["capabilities"] == ["assembly", "movements"]
    [contact] = body["contacts"]
    assert contact["consent"] is True
    assert contact["consent_at"] is not None


async def test_update_needs_if_match_and_refuses_a_stale_version(client: httpx.AsyncClient) -> None:
    company = await _register(client)
    url = f"/companies/{company['id']}"

    missing = await client.patch(url, json={"city": "Besançon"})
    assert missing.status_code == 428

    ok = await client.patch(url, json={"city": "Besançon"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert ok.json()["city"] == "Besançon"

    stale = await client.patch(url, json={"city": "Maîche"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    garbage = await client.patch(url, json={"city": "Maîche"}, headers={"If-Match": "xyz"})
    assert garbage.status_code == 412

    unchanged = await client.patch(url, json={"city": "Besançon"}, headers={"If-Match": '"2"'})
    assert unchanged.status_code == 200
    assert unchanged.headers["ETag"] == '"2"'  # nothing changed, no new version


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"legal_name": None}, "body"),
        ({"capabilities": ["time_travel"]}, "capabilities"),
        ({"website": "not a url"}, "website"),
        ({"headcount_band": "12"}, "headcount_band"),
        ({}, "body"),
    ],
)
async def test_bad_update_gets_422(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    company = await _register(client, siren=None, country="CH")
    response = await client.patch(
        f"/companies/{company['id']}", json=change, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 422, response.text
    locations = {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert field in locations


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capabilities": ["movements", "warp_drive"]}, "capabilities"),
        ({"contacts": [{"name": "X", "email": "not-an-email"}]}, "email"),
        ({"contacts": [{"name": "X", "email": "x@y.example", "language": "de"}]}, "language"),
        ({"membership": "sponsor"}, "membership"),
    ],
)
async def test_bad_registration_gets_422_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    response = await client.post("/companies", json={**PROFILE, **change})
    assert response.status_code == 422
    locations = {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert field in locations


async def test_siren_stays_unique_on_update(client: httpx.AsyncClient) -> None:
    await _register(client)
    other = await _register(client, siren="552100554", legal_name="Autre")
    response = await client.patch(
        f"/companies/{other['id']}", json={"siren": "732829320"}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 409


async def test_deactivate_and_reactivate(client: httpx.AsyncClient) -> None:
    company = await _register(client)
    url = f"/companies/{company['id']}"
    assert (await client.post(f"{url}/deactivate", json={})).status_code == 428
    off = await client.post(
        f"{url}/deactivate", json={"reason": "cessation"}, headers={"If-Match": '"1"'}
    )
    assert off.status_code == 200
    assert off.json()["status"] == "deactivated"
    again = await client.post(f"{url}/deactivate", json={}, headers={"If-Match": '"2"'})
    assert again.status_code == 409
    on = await client.post(f"{url}/reactivate", headers={"If-Match": '"2"'})
    assert on.status_code == 200
    assert on.json()["status"] == "active"


async def test_erasure_tombstones_the_company_and_is_idempotent(
    client: httpx.AsyncClient, mongo: MongoClient, run_id: str
) -> None:
    company = await _register(client)
    url = f"/companies/{company['id']}"
    erased = await client.post(f"{url}/erase")
    assert erased.status_code == 200
    assert erased.json()["status"] == "erased"
    assert (await client.post(f"{url}/erase")).status_code == 200
    gone = await client.get(url)
    assert gone.status_code == 410
    assert gone.json()["status"] == "erased"
    assert (
        await client.patch(url, json={"city": "X"}, headers={"If-Match": '"2"'})
    ).status_code == 410

    stored = await mongo[f"t_{run_id}_registry"]["companies"].find_one({"_id": company["id"]})
    assert stored is not None
    for personal in ("legal_name", "contacts", "siren", "website", "city"):
        assert personal not in stored, personal
    # The SIREN is free again: the company may register anew.
    await _register(client)


async def test_search_filters_and_paginates(client: httpx.AsyncClient) -> None:
    names = [f"Atelier {letter}" for letter in "ABCDE"]
    ids = {}
    for index, name in enumerate(names):
        company = await _register(
            client,
            siren=None,
            country="CH",
            legal_name=name,
            region="Jura" if index % 2 else "Neuchâtel",
            capabilities=["dials.enamel"] if index < 2 else ["cases"],
            roles=["dial_maker"] if index < 2 else ["case_maker"],
            membership="partner" if index == 4 else "member",
        )
        ids[name] = company["id"]

    async def names_of(**params: object) -> list[str]:
        response = await client.get("/companies", params={"q": "atelier", **params})
        assert response.status_code == 200, response.text
        return [item["legal_name"] for item in response.json()["items"]]

    assert await names_of() == names
    assert await names_of(capability="dials") == names[:2]  # a theme matches its skills
    assert await names_of(capability="dials.enamel") == names[:2]
    assert await names_of(role="case_maker") == names[2:]
    assert await names_of(region="Jura") == ["Atelier B", "Atelier D"]
    assert await names_of(membership="partner") == ["Atelier E"]
    assert (
        "contacts"
        not in (await client.get("/companies", params={"q": "atelier"})).json()["items"][0]
    )

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"q": "atelier", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/companies", params=params)).json()
        seen += [item["legal_name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names

    assert (await client.get("/companies", params={"cursor": "!!"})).status_code == 422
    assert (await client.get("/companies", params={"capability": "nope"})).status_code == 422
    assert (await client.get("/companies", params={"role": "nope"})).status_code == 422
    # User text is matched literally: a regex metacharacter finds nothing, breaks nothing.
    assert await names_of(q="atelier.*") == []


async def test_capability_taxonomy_is_served_in_both_languages(client: httpx.AsyncClient) -> None:
    body = (await client.get("/capabilities")).json()
    assert body["version"] == 1
    assert len(body["themes"]) == 10
    sav = next(theme for theme in body["themes"] if theme["code"] == "after_sales")
    assert sav["labels"] == {"fr": "SAV", "en": "After-sales service"}
    assert all(skill["code"].startswith("after_sales.") for skill in sav["skills"])
