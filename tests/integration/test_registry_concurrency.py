"""Concurrent writers on one aggregate: versions guard against lost updates and no event is
lost, while the outbox relay works on the same documents."""

import asyncio

import httpx
import pytest

from eci_common.mongo import MongoClient
from eci_common.topics import REGISTRY_CLUSTERS
from support.endpoints import Endpoints
from support.kafka_io import headers_of, read_all
from support.polling import eventually

pytestmark = pytest.mark.integration


async def test_concurrent_updates_with_one_version_let_exactly_one_through(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/companies", json={"legal_name": "Course", "country": "CH", "roles": ["assembler"]}
    )
    url = f"/companies/{created.json()['id']}"
    responses = await asyncio.gather(
        *(
            client.patch(url, json={"city": f"Ville {n}"}, headers={"If-Match": '"1"'})
            for n in range(12)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * 11
    winner = next(r for r in responses if r.status_code == 200).json()["city"]
    assert (await client.get(url)).json()["city"] == winner


async def test_concurrent_joins_keep_every_member_and_every_event(
    client: httpx.AsyncClient, endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    cluster = (
        await client.post(
            "/clusters", json={"code": f"c-{run_id}", "name": "Foule", "theme": "assembly"}
        )
    ).json()
    companies = []
    for n in range(15):
        response = await client.post(
            "/companies",
            json={"legal_name": f"Membre {n}", "country": "CH", "roles": ["assembler"]},
        )
        companies.append(response.json()["id"])

    responses = await asyncio.gather(
        *(client.put(f"/clusters/{cluster['id']}/members/{c}", json={}) for c in companies)
    )
    assert {response.status_code for response in responses} == {200}
    members = (await client.get(f"/clusters/{cluster['id']}/members")).json()
    assert {m["company_id"] for m in members} == set(companies)

    stored = mongo[f"t_{run_id}_registry"]["clusters"]

    async def relayed() -> bool:
        document = await stored.find_one({"_id": cluster["id"]})
        return document is not None and document["outbox"] == []

    await eventually(relayed, what="the relay to publish every join")
    records = await read_all(
        endpoints.kafka_bootstrap, REGISTRY_CLUSTERS, expect=10**9, timeout_ms=3000
    )
    mine = [r for r in records if r.key is not None and r.key.decode() == cluster["id"]]
    kinds = [headers_of(r)["ce_type"].rsplit(".", 2)[-2] for r in mine]
    assert kinds.count("member-joined") == 15, kinds
    assert kinds.count("created") == 1
