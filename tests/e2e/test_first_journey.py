"""Journey: a company registers through the registry API; projects learns of it from the event;
the association's staff find it in their inbox. Three processes, real broker, real database.
The registration is then delivered once more, as a relay does after a lost acknowledgement, and
each consumer must handle it once: counted per handling in its log, since the effects' ids are
deterministic and would hide a second application."""

import httpx
import pytest

from eci_common.envelope import KafkaRecord
from eci_common.mongo import MongoClient
from eci_common.topics import REGISTRY_COMPANIES
from support.asyncapi_of import asyncapi_document_of
from support.auth import staff
from support.handlings import Handlings
from support.kafka_io import headers_of, produce, read_all
from support.offsets import end_offsets, wait_until_consumed
from support.polling import eventually

from .conftest import System

pytestmark = pytest.mark.e2e


async def test_registration_reaches_projects_read_model_and_staff_inbox(
    system: System, mongo: MongoClient
) -> None:
    async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
        response = await client.post(
            f"{system.registry.url}/companies",
            json={
                "legal_name": "Cadrans de Besançon",
                "siren": "552100554",
                "city": "Besançon",
                "region": "Bourgogne-Franche-Comté",
                "roles": ["dial_maker"],
                "capabilities": ["dials"],
            },
            headers={"X-Correlation-ID": "journey-1"},
        )
        assert response.status_code == 201, response.text
        company_id = response.json()["id"]

        async def known_to_projects() -> dict[str, object] | None:
            found = await client.get(f"{system.projects.url}/companies/{company_id}")
            return found.json() if found.status_code == 200 else None

        known = await eventually(known_to_projects, what="projects' read model")
        assert known["legal_name"] == "Cadrans de Besançon"
        assert known["capabilities"] == ["dials"]

        async def staff_notified() -> list[dict[str, object]]:
            inbox = await client.get(f"{system.notifications.url}/notifications")
            return [n for n in inbox.json() if n["company_id"] == company_id]

        [notification] = await eventually(staff_notified, what="the staff notification")
        assert notification["recipient"] == "staff"
        assert notification["title"] == "Nouvelle entreprise inscrite : Cadrans de Besançon"
        assert notification["correlation_id"] == "journey-1"

    # Each running service serves its AsyncAPI document, as generated from the code.
    async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
        for service in system.all:
            served = (await client.get(f"{service.url}/asyncapi.json")).json()
            assert served == asyncapi_document_of(service.name)
            page = await client.get(f"{service.url}/asyncapi")
            assert page.headers["content-type"].startswith("text/html")

    # Exactly one effect in each consuming service's own database.
    notifications_db = mongo[system.notifications.database]
    assert await notifications_db["notifications"].count_documents({"company_id": company_id}) == 1
    assert (
        await mongo[system.projects.database]["companies"].count_documents({"_id": company_id}) == 1
    )
    # The correlation id followed the event into both consumers' logs.
    for service in (system.projects, system.notifications):
        assert '"correlation_id": "journey-1"' in service.log_path.read_text()

    await _redeliver_registration(system, company_id)


async def _redeliver_registration(system: System, company_id: str) -> None:
    """Sends the company's registration record again; neither consumer handles it twice."""
    bootstrap = system.registry.env["KAFKA_BOOTSTRAP_SERVERS"]
    on_topic = sum((await end_offsets(bootstrap, (REGISTRY_COMPANIES,))).values())
    records = await read_all(bootstrap, REGISTRY_COMPANIES, expect=on_topic)
    [registration] = [r for r in records if r.key == company_id.encode()]
    event_id = headers_of(registration)["ce_id"]
    await produce(
        bootstrap,
        [KafkaRecord(REGISTRY_COMPANIES, company_id, headers_of(registration), registration.value)],
    )
    consumers = (system.projects, system.notifications)
    await wait_until_consumed(bootstrap, tuple(s.group for s in consumers), (REGISTRY_COMPANIES,))
    for service in consumers:
        handlings = Handlings.of(service)
        assert handlings.total[event_id] == 1, f"{service.name} handled the registration twice"
        assert handlings.repeated() == {}, f"{service.name} handled events twice"
