"""Journeys 2 and 3 over three processes: propose → open call (with matchmaking) → apply →
accept → active → milestone, the events read back from the topic in order; then the read model
rebuilt from the registry topics equals the live one."""

from typing import Any

import httpx
import pytest

from eci_common.mongo import MongoClient
from eci_common.settings import ConsumerSettings
from eci_common.topics import PROJECTS_PROJECTS
from eci_projects.rebuild import replay_into
from eci_projects.settings import Settings as ProjectsSettings
from support.auth import staff
from support.contracts import validate_record
from support.kafka_io import headers_of, read_all
from support.polling import eventually

from .conftest import System

pytestmark = pytest.mark.e2e

# Type and version of each event, in order. During the migration window of `message`
# (docs/versioning.md) an application is published as v1 (its text emptied) and v2, in that order.
EXPECTED_EVENTS = [
    "project.proposed.v1",
    "project.status-changed.v1",
    "call.opened.v1",
    "call.candidates-ranked.v1",
    "application.submitted.v1",
    "application.submitted.v2",
    "partner.accepted.v1",
    "project.status-changed.v1",
    "call.closed.v1",
    "milestone.reached.v1",
]


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_project_journey_then_read_model_rebuild(system: System, mongo: MongoClient) -> None:
    registry, projects = system.registry.url, system.projects.url
    async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
        cluster = await _ok(
            await client.post(
                f"{registry}/clusters",
                json={"code": "mouvements", "name": "Grappe Mouvements", "theme": "movements"},
            ),
            201,
        )

        async def company(name: str, capabilities: list[str], region: str, join: bool) -> str:
            created = await _ok(
                await client.post(
                    f"{registry}/companies",
                    json={
                        "legal_name": name,
                        "country": "CH",
                        "region": region,
                        "roles": ["movement_maker"],
                        "capabilities": capabilities,
                    },
                ),
                201,
            )
            if join:
                await _ok(
                    await client.put(
                        f"{registry}/clusters/{cluster['id']}/members/{created['id']}", json={}
                    )
                )
            return str(created["id"])

        lead = await company("Manufacture Pilote", ["movements"], "Jura", join=True)
        near = await company("Spiraux du Jura", ["movements.escapement"], "Jura", join=True)
        far = await company("Spiraux de Genève", ["movements.escapement"], "Genève", join=False)
        other = await company("Cadrans Lointains", ["dials"], "Jura", join=True)

        async def directory_ready() -> bool:
            found = await client.get(f"{projects}/companies/{other}")
            return found.status_code == 200 and found.json()["clusters"] == [cluster["id"]]

        await eventually(directory_ready, what="projects' read model of the cluster")

        project = await _ok(
            await client.post(
                f"{projects}/projects",
                json={
                    "cluster_id": cluster["id"],
                    "lead_company_id": lead,
                    "title": "Spiral en silicium",
                    "summary": "Un spiral commun aux calibres de la grappe.",
                    "kind": "innovation",
                    "visibility": "all_members",
                    "milestones": [{"title": "Prototype"}],
                },
                headers={"X-Correlation-ID": "journey-2"},
            ),
            201,
        )
        url = f"{projects}/projects/{project['id']}"
        assert project["status"] == "draft"

        # Outsiders of the cluster cannot lead there; illegal moves say what is allowed.
        refused = await client.post(
            f"{projects}/projects",
            json={
                "cluster_id": cluster["id"],
                "lead_company_id": far,
                "title": "X",
                "kind": "pooling",
            },
        )
        assert refused.status_code == 409
        illegal = await client.post(
            f"{url}/status", json={"status": "completed"}, headers={"If-Match": '"1"'}
        )
        assert illegal.status_code == 409
        assert "open_for_partners" in illegal.json()["detail"]

        opened = await _ok(
            await client.post(
                f"{url}/call",
                json={"needed_capabilities": ["movements.escapement"], "deadline": "2099-12-31"},
                headers={"If-Match": '"1"', "X-Correlation-ID": "journey-2"},
            )
        )
        assert opened["status"] == "open_for_partners"
        ranked = await _ok(await client.get(f"{url}/candidates"))
        # Other tests' companies share the topic: look at ours. Same cluster first; no dials.
        ours = [c for c in ranked if c["company_id"] in {lead, near, far, other}]
        assert [c["company_id"] for c in ours] == [near, far]
        assert ours[0]["same_cluster"] is True
        assert ours[0]["reasons"][0].startswith("covers 1 of 1")

        application = await _ok(
            await client.post(
                f"{url}/applications",
                json={"company_id": near, "message": "Nous produisons des spiraux."},
                headers={"X-Correlation-ID": "journey-2"},
            ),
            201,
        )
        lead_self = await client.post(f"{url}/applications", json={"company_id": lead})
        assert lead_self.status_code == 409
        accepted = await _ok(
            await client.post(
                f"{url}/applications/{application['application_id']}/accept",
                headers={"X-Correlation-ID": "journey-2"},
            )
        )
        assert accepted["partners"] == [near]
        active = await _ok(
            await client.post(
                f"{url}/status",
                json={"status": "active"},
                headers={"If-Match": f'"{accepted["version"]}"', "X-Correlation-ID": "journey-2"},
            )
        )
        assert active["status"] == "active"
        assert active["call"]["open"] is False
        milestone_id = active["milestones"][0]["id"]
        reached = await _ok(
            await client.post(
                f"{url}/milestones/{milestone_id}/reached",
                headers={"If-Match": f'"{active["version"]}"', "X-Correlation-ID": "journey-2"},
            )
        )
        assert reached["milestones"][0]["reached_at"] is not None

    stored = mongo[system.projects.database]["projects"]

    async def relayed() -> bool:
        document = await stored.find_one({"_id": project["id"]})
        return document is not None and document["outbox"] == []

    await eventually(relayed, what="every project event to be published")
    records = await read_all(
        system.registry.env["KAFKA_BOOTSTRAP_SERVERS"],
        PROJECTS_PROJECTS,
        expect=10**9,
        timeout_ms=3000,
    )
    mine = sorted(
        (r for r in records if r.key is not None and r.key.decode() == project["id"]),
        key=lambda r: r.offset,
    )
    assert len({r.partition for r in mine}) == 1  # one key, one partition: one order
    kinds = [".".join(headers_of(r)["ce_type"].split(".")[-3:]) for r in mine]
    assert kinds == EXPECTED_EVENTS
    assert {headers_of(r)["ce_correlationid"] for r in mine} == {"journey-2"}
    for record in mine:  # every event matches its committed contract
        validate_record(headers_of(record), record.value or b"")

    # The read model rebuilt from the registry topics equals the live one.
    database = mongo[system.projects.database]
    settings = ProjectsSettings(
        kafka_bootstrap_servers=system.registry.env["KAFKA_BOOTSTRAP_SERVERS"],
        mongodb_uri=system.registry.env["MONGODB_URI"],
        mongodb_database=system.projects.database,
        **ConsumerSettings(consumer_group="unused").model_dump(exclude={"consumer_group"}),
    )
    report = await replay_into(database, settings)
    assert report.records > 0

    async def same_model() -> bool:
        for name in ("companies", "memberships"):
            live = await database[name].find({}).sort("_id", 1).to_list()
            rebuilt = await database[f"{name}_rebuild"].find({}).sort("_id", 1).to_list()
            if live != rebuilt:
                return False
        return True

    await eventually(same_model, timeout=60, what="the rebuilt read model to equal the live one")
    assert await database["companies_rebuild"].count_documents({"_id": near}) == 1
