"""Contract test: every event the registry emits, read back from Kafka as an integrator would,
validates against its committed JSON Schema (headers and body)."""

import httpx
import pytest

from eci_common.events import catalog
from eci_common.mongo import MongoClient
from eci_common.topics import REGISTRY_CLUSTERS, REGISTRY_COMPANIES, REGISTRY_CONTACTS
from support.contracts import validate_record
from support.endpoints import Endpoints
from support.kafka_io import headers_of, read_all
from support.polling import eventually

pytestmark = pytest.mark.integration


async def test_every_registry_event_matches_its_committed_schema(
    client: httpx.AsyncClient, endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    correlation = {"X-Correlation-ID": f"contract-{run_id}"}

    async def call(
        method: str, url: str, json: object = None, if_match: int | None = None
    ) -> dict[str, object]:
        headers = dict(correlation)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        response = await client.request(method, url, json=json, headers=headers)
        assert response.status_code < 300, response.text
        body: dict[str, object] = response.json()
        return body

    company = await call(
        "POST",
        "/companies",
        json={
            "legal_name": "Contrats Horlogers",
            "siren": "732829320",
            "website": "https://contrats.example",
            "headcount_band": "10-49",
            "roles": ["subcontractor"],
            "capabilities": ["movements.escapement"],
            "contacts": [
                {"name": "Jean Contrat", "email": "jean@contrats.example", "consent": True}
            ],
        },
    )
    url = f"/companies/{company['id']}"
    await call("PATCH", url, json={"city": "Maîche"}, if_match=1)
    cluster = await call(
        "POST", "/clusters", json={"code": f"k-{run_id}", "name": "Grappe", "theme": "movements"}
    )
    curl = f"/clusters/{cluster['id']}"
    await call(
        "PATCH",
        curl,
        json={"description": "Échappements"},
        if_match=1,
    )
    await call("PUT", f"{curl}/members/{company['id']}", json={"role": "animator"})
    await call(
        "POST",
        f"{url}/deactivate",
        json={"reason": "test"},
        if_match=2,
    )
    await call("POST", f"{url}/reactivate", if_match=3)
    await call("POST", f"{url}/erase")  # also ends the membership: MemberLeft
    await call("POST", f"{curl}/close", if_match=4)

    database = mongo[f"t_{run_id}_registry"]

    async def all_relayed() -> bool:
        for name in ("companies", "clusters"):
            if await database[name].count_documents({"outbox.0": {"$exists": True}}):
                return False
        return True

    await eventually(all_relayed, what="every event to leave the outbox")
    mine = []
    for topic in (REGISTRY_COMPANIES, REGISTRY_CLUSTERS, REGISTRY_CONTACTS):
        records = await read_all(endpoints.kafka_bootstrap, topic, expect=10**9, timeout_ms=3000)
        mine += [
            r for r in records if headers_of(r).get("ce_correlationid") == f"contract-{run_id}"
        ]

    seen = set()
    for record in mine:
        headers = headers_of(record)
        validate_record(headers, record.value or b"")
        seen.add(headers["ce_type"])
    registry_types = {m.event_type for m in catalog.EVENT_MODELS if ".registry." in m.event_type}
    assert seen == registry_types
