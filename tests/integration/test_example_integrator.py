"""The example integrator (examples/integrator, confluent-kafka) reads what the registry really
publishes, finds every record valid against the committed contracts, and sees every registry
event type."""

import asyncio
import importlib.util
from types import ModuleType
from typing import Any

import httpx
import pytest

from eci_common.envelope import KafkaRecord
from eci_common.events.catalog import EVENT_MODELS
from eci_common.mongo import MongoClient
from eci_common.topics import PUBLIC_TOPICS, REGISTRY_COMPANIES
from support.endpoints import REPO, Endpoints
from support.kafka_io import headers_of, produce, read_all
from support.polling import eventually

pytestmark = pytest.mark.integration

pytest.importorskip(
    "confluent_kafka",
    reason="confluent-kafka is not installed: the example integrator needs it (a dev dependency)",
)

REGISTRY_PUBLIC_TYPES = {
    model.event_type
    for model in EVENT_MODELS
    if model.event_type.startswith("fr.horlogerie.eci.registry.") and model.topic in PUBLIC_TOPICS
}


def load_example() -> ModuleType:
    """examples/integrator/consume.py, which is a script rather than a package."""
    path = REPO / "examples" / "integrator" / "consume.py"
    spec = importlib.util.spec_from_file_location("example_integrator_consume", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run_registry_flows(client: httpx.AsyncClient, correlation: str) -> None:
    """Every registry event type: a company's whole life and a cluster's, one membership."""

    async def call(
        method: str, url: str, json: object = None, if_match: int | None = None
    ) -> dict[str, object]:
        headers = {"X-Correlation-ID": correlation}
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
            "legal_name": "Intégrateur Exemple",
            "roles": ["subcontractor"],
            "capabilities": ["movements.escapement"],
        },
    )
    url = f"/companies/{company['id']}"
    await call("PATCH", url, json={"city": "Besançon"}, if_match=1)
    cluster = await call(
        "POST",
        "/clusters",
        json={"code": f"ex-{correlation[-8:]}", "name": "Grappe", "theme": "movements"},
    )
    cluster_url = f"/clusters/{cluster['id']}"
    await call("PATCH", cluster_url, json={"description": "Échappements"}, if_match=1)
    await call("PUT", f"{cluster_url}/members/{company['id']}", json={"role": "member"})
    await call("POST", f"{url}/deactivate", json={"reason": "test"}, if_match=2)
    await call("POST", f"{url}/reactivate", if_match=3)
    await call("POST", f"{url}/erase")  # also ends the membership: member-left
    await call("POST", f"{cluster_url}/close", if_match=4)


async def test_the_example_integrator_validates_what_the_registry_publishes(
    client: httpx.AsyncClient, endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    correlation = f"example-integrator-{run_id}"
    await run_registry_flows(client, correlation)
    database = mongo[f"t_{run_id}_registry"]

    async def all_relayed() -> bool:
        for name in ("companies", "clusters"):
            if await database[name].count_documents({"outbox.0": {"$exists": True}}):
                return False
        return True

    await eventually(all_relayed, what="every event to leave the outbox")
    # Publish one of those records a second time, as the relay does after a crash between
    # publishing and recording it: the integrator must see it as a duplicate, not a new event.
    records = await read_all(
        endpoints.kafka_bootstrap, REGISTRY_COMPANIES, expect=10**9, timeout_ms=3000
    )
    original = next(r for r in records if headers_of(r).get("ce_correlationid") == correlation)
    await produce(
        endpoints.kafka_bootstrap,
        [
            KafkaRecord(
                topic=REGISTRY_COMPANIES,
                key=(original.key or b"").decode(),
                headers=headers_of(original),
                body=original.value or b"",
            )
        ],
    )

    example = load_example()
    mine: list[str] = []
    duplicates: list[str] = []

    # The example is loaded from its file, so its `Outcome` type is not importable here.
    def keep_mine(outcome: Any) -> None:
        headers = outcome.headers
        if headers.get("ce_correlationid") == correlation:
            mine.append(headers["ce_type"])
            if outcome.duplicate:
                duplicates.append(headers["ce_id"])

    summary = await asyncio.to_thread(
        example.consume,
        endpoints.kafka_bootstrap,
        group_id=f"t-{run_id}-example",
        timeout_s=60.0,
        on_record=keep_mine,
    )

    assert summary.invalid == [], summary.render()
    assert summary.records > 0
    assert set(mine) == REGISTRY_PUBLIC_TYPES, summary.render()
    assert duplicates == [headers_of(original)["ce_id"]]
    assert summary.duplicates >= 1
    # The example reads the public topics, named by the published AsyncAPI document.
    assert sorted(example.public_topics()) == sorted(PUBLIC_TOPICS)
