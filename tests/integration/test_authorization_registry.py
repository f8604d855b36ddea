"""Who may do what in the registry, for each role against companies, clusters and the
taxonomy, allowed and denied, over the real database and broker."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import jwt
import pytest
import pytest_asyncio

from eci_common.auth import Role
from eci_common.token_keys import generate_signing_key
from eci_registry.main import create_app
from support.auth import bearer, staff, token
from support.endpoints import Endpoints

from .conftest import registry_settings

pytestmark = pytest.mark.integration


def _company(name: str, siren: str) -> dict[str, object]:
    return {
        "legal_name": name,
        "siren": siren,
        "city": "Besançon",
        "roles": ["subcontractor"],
        "capabilities": ["movements"],
        "contacts": [
            {
                "name": f"Contact {name}",
                "email": f"contact@{siren}.example",
                "consent": True,
            }
        ],
    }


@dataclass
class World:
    client: httpx.AsyncClient
    company_a: str
    company_b: str
    company_c: str
    cluster_x: str
    cluster_y: str

    def as_(self, who: str) -> dict[str, str]:
        """Headers for one of: staff, animator (of X, for company C), contact_a, contact_b,
        integrator, anonymous."""
        return {
            "staff": staff(),
            "animator": bearer(Role.ANIMATOR, company=self.company_c, clusters=(self.cluster_x,)),
            "contact_a": bearer(Role.CONTACT, company=self.company_a),
            "contact_b": bearer(Role.CONTACT, company=self.company_b),
            "integrator": bearer(Role.INTEGRATOR),
            "anonymous": {},
        }[who]

    async def version(self, path: str) -> str:
        response = await self.client.get(path, headers=staff())
        assert response.status_code == 200, response.text
        return response.headers["ETag"]


@pytest_asyncio.fixture
async def world(endpoints: Endpoints, run_id: str) -> AsyncIterator[World]:
    app = create_app(registry_settings(endpoints, f"t_{run_id}_registry"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            ids = []
            for name, siren in (("Alpha", "732829320"), ("Beta", "552100554"), ("Gamma", None)):
                body = _company(name, siren) if siren else {**_company(name, "x"), "siren": None}
                created = await client.post("/companies", json=body, headers=staff())
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            clusters = []
            for code, theme in (("mouvements", "movements"), ("boitiers", "cases")):
                created = await client.post(
                    "/clusters",
                    json={"code": code, "name": code.title(), "theme": theme},
                    headers=staff(),
                )
                assert created.status_code == 201, created.text
                clusters.append(created.json()["id"])
            yield World(client, *ids, *clusters)


EVERY_ROLE = ("staff", "animator", "contact_a", "contact_b", "integrator")


async def test_every_route_needs_a_valid_token(world: World) -> None:
    for path in ("/companies", f"/companies/{world.company_a}", "/clusters", "/capabilities"):
        response = await world.client.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == "Bearer"
    expired = token(Role.STAFF, ttl_s=-120)
    forged = jwt.encode({"sub": "x", "role": "staff"}, "not-the-key-" * 4, algorithm="HS256")
    # Well formed, with the listed key's kid, but signed by another key.
    claims = jwt.decode(token(Role.STAFF), options={"verify_signature": False})
    kid = jwt.get_unverified_header(token(Role.STAFF))["kid"]
    stranger = generate_signing_key().private_key
    unlisted = jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": kid})
    unsigned = jwt.encode({"sub": "x", "role": "staff"}, key=None, algorithm="none")
    for bad in (expired, forged, unlisted, unsigned, "garbage"):
        response = await world.client.get("/companies", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, bad
    # Health, metrics and the API documents stay open.
    for path in ("/health/live", "/metrics", "/openapi.json"):
        assert (await world.client.get(path)).status_code == 200, path


async def test_reads_are_open_to_every_role_but_contacts_only_to_their_company(
    world: World,
) -> None:
    for who in EVERY_ROLE:
        for path in ("/companies", "/clusters", "/capabilities", f"/clusters/{world.cluster_x}"):
            assert (await world.client.get(path, headers=world.as_(who))).status_code == 200
        company = await world.client.get(f"/companies/{world.company_a}", headers=world.as_(who))
        assert company.status_code == 200
        contacts = company.json()["contacts"]
        if who in ("staff", "contact_a"):
            assert contacts[0]["email"] == "contact@732829320.example", who
        else:
            assert contacts is None, who


async def test_only_staff_register_companies_and_create_clusters(world: World) -> None:
    for who, expected in (
        ("contact_a", 403),
        ("animator", 403),
        ("integrator", 403),
        ("anonymous", 401),
    ):
        company = await world.client.post(
            "/companies", json=_company("Delta", "404833048"), headers=world.as_(who)
        )
        assert company.status_code == expected, (who, company.text)
        cluster = await world.client.post(
            "/clusters",
            json={"code": "cadrans", "name": "Cadrans", "theme": "dials"},
            headers=world.as_(who),
        )
        assert cluster.status_code == expected, (who, cluster.text)
    created = await world.client.post(
        "/companies", json=_company("Delta", "404833048"), headers=staff()
    )
    assert created.status_code == 201


async def test_a_contact_changes_only_its_own_company(world: World) -> None:
    path = f"/companies/{world.company_a}"
    for who, expected in (
        ("contact_b", 403),
        ("animator", 403),
        ("integrator", 403),
        ("anonymous", 401),
    ):
        response = await world.client.patch(
            path,
            json={"city": "Morteau"},
            headers={**world.as_(who), "If-Match": await world.version(path)},
        )
        assert response.status_code == expected, (who, response.text)
    allowed = await world.client.patch(
        path,
        json={"city": "Morteau"},
        headers={**world.as_("contact_a"), "If-Match": await world.version(path)},
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["city"] == "Morteau"

    # Deactivation: the company itself or staff; reactivation: staff only.
    denied = await world.client.post(
        f"{path}/deactivate",
        json={"reason": "not mine"},
        headers={**world.as_("contact_b"), "If-Match": await world.version(path)},
    )
    assert denied.status_code == 403
    own = await world.client.post(
        f"{path}/deactivate",
        json={"reason": "we pause our membership"},
        headers={**world.as_("contact_a"), "If-Match": await world.version(path)},
    )
    assert own.status_code == 200, own.text
    for who, expected in (("contact_a", 403), ("staff", 200)):
        response = await world.client.post(
            f"{path}/reactivate", headers={**world.as_(who), "If-Match": await world.version(path)}
        )
        assert response.status_code == expected, (who, response.text)


async def test_erasure_by_staff_or_by_the_company_itself(world: World) -> None:
    for who, expected in (("contact_b", 403), ("animator", 403), ("integrator", 403)):
        response = await world.client.post(
            f"/companies/{world.company_a}/erase", headers=world.as_(who)
        )
        assert response.status_code == expected, who
    assert (
        await world.client.get(f"/companies/{world.company_a}", headers=staff())
    ).status_code == 200
    itself = await world.client.post(
        f"/companies/{world.company_a}/erase", headers=world.as_("contact_a")
    )
    assert itself.status_code == 200
    by_staff = await world.client.post(f"/companies/{world.company_b}/erase", headers=staff())
    assert by_staff.status_code == 200
    assert (
        await world.client.get(f"/companies/{world.company_b}", headers=staff())
    ).status_code == 410


async def test_an_animator_manages_only_its_clusters(world: World) -> None:
    x, y = f"/clusters/{world.cluster_x}", f"/clusters/{world.cluster_y}"
    own = await world.client.patch(
        x,
        json={"description": "Mouvements et échappements"},
        headers={**world.as_("animator"), "If-Match": await world.version(x)},
    )
    assert own.status_code == 200, own.text
    other = await world.client.patch(
        y,
        json={"description": "not mine"},
        headers={**world.as_("animator"), "If-Match": await world.version(y)},
    )
    assert other.status_code == 403

    member = {"role": "member"}
    joined = await world.client.put(
        f"{x}/members/{world.company_b}", json=member, headers=world.as_("animator")
    )
    assert joined.status_code == 200, joined.text
    for who, path in (
        ("animator", f"{y}/members/{world.company_b}"),
        ("contact_b", f"{x}/members/{world.company_a}"),
        ("contact_b", f"{y}/members/{world.company_b}"),
        ("integrator", f"{x}/members/{world.company_a}"),
    ):
        response = await world.client.put(path, json=member, headers=world.as_(who))
        assert response.status_code == 403, (who, path)

    # A company may leave by itself; another company may not remove it.
    removed_by_other = await world.client.delete(
        f"{x}/members/{world.company_b}", headers=world.as_("contact_a")
    )
    assert removed_by_other.status_code == 403
    left = await world.client.delete(
        f"{x}/members/{world.company_b}", headers=world.as_("contact_b")
    )
    assert left.status_code == 200, left.text

    for who, path, expected in (("animator", y, 403), ("contact_a", x, 403), ("staff", y, 200)):
        response = await world.client.post(
            f"{path}/close", headers={**world.as_(who), "If-Match": await world.version(path)}
        )
        assert response.status_code == expected, (who, path, response.text)
