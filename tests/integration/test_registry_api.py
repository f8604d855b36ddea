"""The registry API over the real database and broker: statuses, validation, the outbox."""

import httpx
import pytest

from eci_common.mongo import MongoClient
from eci_common.topics import REGISTRY_COMPANIES
from eci_registry.main import create_app
from support.auth import staff
from support.endpoints import Endpoints
from support.polling import eventually

from .conftest import registry_settings

pytestmark = pytest.mark.integration

VALID = {
    "legal_name": "Manufacture du Haut-Doubs",
    "siren": "732829320",
    "city": "Morteau",
    "roles": ["watch_brand"],
    "capabilities": ["movements"],
}


async def test_register_returns_201_with_location_etag_and_correlation(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/companies", json=VALID, headers={"X-Correlation-ID": "c-42"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/companies/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert response.headers["X-Correlation-ID"] == "c-42"
    assert body["legal_name"] == VALID["legal_name"]
    assert body["country"] == "FR"

    fetched = await client.get(f"/companies/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_registration_event_leaves_through_the_outbox(
    client: httpx.AsyncClient, mongo: MongoClient, run_id: str
) -> None:
    response = await client.post("/companies", json=VALID, headers={"X-Correlation-ID": "c-43"})
    company_id = response.json()["id"]
    companies = mongo[f"t_{run_id}_registry"]["companies"]

    async def outbox_emptied() -> bool:
        document = await companies.find_one({"_id": company_id})
        return document is not None and document["outbox"] == []

    await eventually(outbox_emptied, timeout=20, what="the relay to publish the event")


async def test_stored_document_holds_the_event_until_published(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    # Without a lifespan the relay is not running: the event must wait in the document.
    settings = registry_settings(endpoints, f"t_{run_id}_registry_norelay")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        relay = app.state.registry.relay
        await relay.stop(1)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://r", headers=staff()
        ) as client:
            response = await client.post("/companies", json={**VALID, "siren": "552100554"})
    document = await mongo[settings.mongodb_database]["companies"].find_one(
        {"_id": response.json()["id"]}
    )
    assert document is not None
    [entry] = document["outbox"]
    assert entry["topic"] == REGISTRY_COMPANIES
    assert entry["key"] == response.json()["id"]
    assert entry["headers"]["ce_correlationid"] == response.headers["X-Correlation-ID"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"legal_name": ""}, "legal_name"),
        ({"siren": "732829321"}, "siren"),
        ({"siren": "12345"}, "siren"),
        ({"country": "France"}, "country"),
        ({"roles": []}, "roles"),
        ({"roles": ["astronaut"]}, "roles"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_input_gets_422_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    response = await client.post("/companies", json={**VALID, **change})
    assert response.status_code == 422
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}


async def test_duplicate_siren_gets_409(client: httpx.AsyncClient) -> None:
    first = await client.post("/companies", json={**VALID, "siren": "443061841"})
    assert first.status_code == 201
    second = await client.post(
        "/companies", json={**VALID, "siren": "443061841", "legal_name": "Other"}
    )
    assert second.status_code == 409
    assert "443061841" in second.json()["detail"]


async def test_foreign_companies_without_siren_do_not_collide(client: httpx.AsyncClient) -> None:
    for name in ("Atelier Genevois", "Boîtes de Bienne"):
        response = await client.post(
            "/companies", json={**VALID, "siren": None, "country": "CH", "legal_name": name}
        )
        assert response.status_code == 201, response.text


async def test_unknown_company_gets_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/companies/does-not-exist")
    assert response.status_code == 404


async def test_readiness_reports_database_and_broker(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["mongodb"]["ok"] is True
    assert checks["kafka"]["ok"] is True
