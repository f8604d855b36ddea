"""A company registered while the broker is down reaches its consumers, once, when it is back."""

from pathlib import Path

import httpx
import pytest

from eci_common.mongo import MongoClient
from support.auth import staff
from support.endpoints import Endpoints
from support.polling import eventually
from support.private_kafka import PrivateKafka

from ..e2e.conftest import start_system, stop_system

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.timeout(420)]


async def test_registration_during_broker_outage_is_delivered_once_after_restart(
    private_kafka: PrivateKafka,
    private_endpoints: Endpoints,
    mongo: MongoClient,
    run_id: str,
    log_dir: Path,
) -> None:
    system = await start_system(private_endpoints, run_id, log_dir)
    try:
        private_kafka.stop()
        async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
            response = await client.post(
                f"{system.registry.url}/companies",
                json={"legal_name": "Horlogerie Hors Ligne", "roles": ["assembler"]},
                headers={"X-Correlation-ID": "outage-1"},
            )
            # The write does not need the broker: the event waits in the outbox.
            assert response.status_code == 201, response.text
            company_id = response.json()["id"]
            stored = await mongo[system.registry.database]["companies"].find_one(
                {"_id": company_id}
            )
            assert stored is not None
            assert len(stored["outbox"]) == 1

            private_kafka.start()

            async def staff_notified() -> list[dict[str, object]]:
                inbox = await client.get(f"{system.notifications.url}/notifications")
                if inbox.status_code != 200:
                    return []
                return [n for n in inbox.json() if n["company_id"] == company_id]

            await eventually(staff_notified, timeout=90, what="delivery after the broker restart")

            async def known_to_projects() -> bool:
                found = await client.get(f"{system.projects.url}/companies/{company_id}")
                return found.status_code == 200

            await eventually(known_to_projects, timeout=60, what="projects' read model")

        notifications = mongo[system.notifications.database]["notifications"]
        assert await notifications.count_documents({"company_id": company_id}) == 1
        registry_doc = await mongo[system.registry.database]["companies"].find_one(
            {"_id": company_id}
        )
        assert registry_doc is not None
        assert registry_doc["outbox"] == []
        # Every service recovered by itself: none was restarted.
        assert all(service.process and service.process.poll() is None for service in system.all)
    finally:
        stop_system(system)
