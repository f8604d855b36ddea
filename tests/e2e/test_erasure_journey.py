"""Journey 4: a company asks to be forgotten. After the erasure no service's database holds its
personal data, checked by reading every collection of the three databases."""

import json

import httpx
import pytest

from eci_common.mongo import MongoClient
from support.auth import staff
from support.polling import eventually

from .conftest import System

pytestmark = pytest.mark.e2e

PERSONAL = {
    "legal_name": "Émaux Oubliés de Pontarlier",
    "contact_name": "Hélène Oubliée",
    "email": "helene@emaux-oublies.example",
    "phone": "+33 3 53 01 99 42",
    "siren": "552100554",
}


async def _dump(mongo: MongoClient, database: str) -> str:
    """Every document of every collection of a database, as one text."""
    db = mongo[database]
    texts = []
    for name in await db.list_collection_names():
        documents = await db[name].find({}).to_list()
        texts.append(json.dumps(documents, default=str, ensure_ascii=False))
    return "\n".join(texts)


async def test_erasure_purges_personal_data_from_every_service(
    system: System, mongo: MongoClient
) -> None:
    async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
        cluster = await client.post(
            f"{system.registry.url}/clusters",
            json={"code": "cadrans", "name": "Grappe Cadrans", "theme": "dials"},
        )
        registered = await client.post(
            f"{system.registry.url}/companies",
            json={
                "legal_name": PERSONAL["legal_name"],
                "siren": PERSONAL["siren"],
                "city": "Pontarlier",
                "roles": ["dial_maker"],
                "capabilities": ["dials.enamel"],
                "contacts": [
                    {
                        "name": PERSONAL["contact_name"],
                        "email": PERSONAL["email"],
                        "phone": PERSONAL["phone"],
                        "consent": True,
                    }
                ],
            },
        )
        company_id = registered.json()["id"]
        joined = await client.put(
            f"{system.registry.url}/clusters/{cluster.json()['id']}/members/{company_id}", json={}
        )
        assert joined.status_code == 200

        async def known_everywhere() -> bool:
            projects = await client.get(f"{system.projects.url}/companies/{company_id}")
            inbox = await client.get(f"{system.notifications.url}/notifications")
            noticed = any(n["company_id"] == company_id for n in inbox.json())
            return projects.status_code == 200 and bool(projects.json()["clusters"]) and noticed

        # A fresh consumer group reads the shared topics' history first: give it time.
        await eventually(
            known_everywhere, timeout=90, what="the company to be known by every service"
        )

        # It applies to a project with a message that names its contact.
        lead = await client.post(
            f"{system.registry.url}/companies",
            json={"legal_name": "Pilote", "country": "CH", "roles": ["watch_brand"]},
        )
        lead_id = lead.json()["id"]
        await client.put(
            f"{system.registry.url}/clusters/{cluster.json()['id']}/members/{lead_id}", json={}
        )

        async def lead_known() -> bool:
            found = await client.get(f"{system.projects.url}/companies/{lead_id}")
            return found.status_code == 200 and bool(found.json()["clusters"])

        await eventually(lead_known, what="the lead in projects' read model")
        project = await client.post(
            f"{system.projects.url}/projects",
            json={
                "cluster_id": cluster.json()["id"],
                "lead_company_id": lead_id,
                "title": "Émail grand feu",
                "kind": "new_process",
            },
        )
        project_url = f"{system.projects.url}/projects/{project.json()['id']}"
        await client.post(
            f"{project_url}/call",
            json={"needed_capabilities": ["dials.enamel"], "deadline": "2099-01-01"},
            headers={"If-Match": '"1"'},
        )
        applied = await client.post(
            f"{project_url}/applications",
            json={"company_id": company_id, "message": f"Contact : {PERSONAL['contact_name']}"},
        )
        assert applied.status_code == 201, applied.text
        before = await _dump(mongo, system.notifications.database)
        assert PERSONAL["legal_name"] in before  # the check below can fail
        assert PERSONAL["contact_name"] in await _dump(mongo, system.projects.database)

        erased = await client.post(f"{system.registry.url}/companies/{company_id}/erase")
        assert erased.status_code == 200

        async def purged_everywhere() -> bool:
            projects = (await client.get(f"{system.projects.url}/companies/{company_id}")).json()
            inbox = await client.get(f"{system.notifications.url}/notifications")
            return (
                projects["status"] == "erased"
                and not projects["clusters"]
                and not any(n["company_id"] == company_id for n in inbox.json())
            )

        await eventually(purged_everywhere, what="every service to honour the erasure")

    async def nothing_left() -> bool:
        # The registry's outbox empties once the erasure's events are relayed.
        for service in system.all:
            text = await _dump(mongo, service.database)
            if any(value in text for value in PERSONAL.values()):
                return False
        return True

    await eventually(nothing_left, what="no personal data in any database")
    assert (await client_get_status(system, company_id)) == 410


async def client_get_status(system: System, company_id: str) -> int:
    async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
        return (await client.get(f"{system.registry.url}/companies/{company_id}")).status_code
