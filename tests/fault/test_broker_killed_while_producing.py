"""The broker killed (-9) and restarted while companies are registered and updated: no
acknowledged change lost, no duplicate effect, order per key kept, services recover alone.

Afterwards every registry record of the run is sent once more (the redeliveries a relay makes
after a lost acknowledgement), and handlings are counted from the consumers' logs: projects and
notifications each handled every event once. Their documents alone could not see a second
handling: the read model's and the notifications' ids are deterministic."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from eci_common.envelope import KafkaRecord
from eci_common.mongo import MongoClient
from eci_common.topics import REGISTRY_COMPANIES
from support.auth import staff
from support.endpoints import Endpoints
from support.handlings import Handlings
from support.kafka_io import headers_of, produce_many, read_all
from support.offsets import end_offsets, wait_until_consumed
from support.polling import eventually
from support.private_kafka import PrivateKafka

from ..e2e.conftest import start_system, stop_system

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.timeout(420)]

RUN_S = 25
KILL_AT_S = 5
RESTART_AT_S = 12


async def test_broker_killed_while_producing(
    private_kafka: PrivateKafka,
    private_endpoints: Endpoints,
    mongo: MongoClient,
    run_id: str,
    log_dir: Path,
) -> None:
    system = await start_system(private_endpoints, run_id, log_dir)
    acknowledged: dict[str, int] = {}  # company id -> last acknowledged version
    try:
        async with httpx.AsyncClient(timeout=10, headers=staff()) as client:

            async def produce() -> None:
                started = time.monotonic()
                n = 0
                while time.monotonic() - started < RUN_S:
                    n += 1
                    created = await client.post(
                        f"{system.registry.url}/companies",
                        json={
                            "legal_name": f"Flux {run_id} {n}",
                            "country": "CH",
                            "roles": ["assembler"],
                        },
                    )
                    assert created.status_code == 201, created.text
                    company_id = created.json()["id"]
                    acknowledged[company_id] = 1
                    if n % 2 == 0:  # a second event on the same key, to check the order
                        updated = await client.patch(
                            f"{system.registry.url}/companies/{company_id}",
                            json={"city": "Bienne"},
                            headers={"If-Match": '"1"'},
                        )
                        assert updated.status_code == 200, updated.text
                        acknowledged[company_id] = 2

            async def chaos() -> None:
                await asyncio.sleep(KILL_AT_S)
                private_kafka.kill()
                await asyncio.sleep(RESTART_AT_S - KILL_AT_S)
                await asyncio.to_thread(private_kafka.start)

            await asyncio.gather(produce(), chaos())

            async def all_delivered() -> bool:
                known = mongo[system.projects.database]["companies"]
                found = await known.find({"_id": {"$in": list(acknowledged)}}).to_list()
                versions = {doc["_id"]: doc["version"] for doc in found}
                return versions == acknowledged

            await eventually(
                all_delivered, timeout=180, interval=0.5, what="every change downstream"
            )

        notifications = mongo[system.notifications.database]["notifications"]

        async def all_notified() -> bool:
            count = await notifications.count_documents({"company_id": {"$in": list(acknowledged)}})
            return count >= len(acknowledged)

        await eventually(all_notified, timeout=120, interval=0.5, what="every staff notification")
        bootstrap = private_endpoints.kafka_bootstrap
        on_topic = sum((await end_offsets(bootstrap, (REGISTRY_COMPANIES,))).values())
        records = await read_all(bootstrap, REGISTRY_COMPANIES, expect=on_topic)
        ours = [r for r in records if (r.key or b"").decode() in acknowledged]
        await produce_many(
            bootstrap,
            [
                KafkaRecord(REGISTRY_COMPANIES, r.key.decode(), headers_of(r), r.value)
                for r in ours
                if r.key is not None and r.value is not None
            ],
        )
        consumers = (system.projects, system.notifications)
        await wait_until_consumed(
            bootstrap, tuple(s.group for s in consumers), (REGISTRY_COMPANIES,), timeout=120
        )
        stored = await notifications.find(
            {"company_id": {"$in": list(acknowledged)}}, {"company_id": 1}
        ).to_list()
        ids = [doc["company_id"] for doc in stored]
        assert len(ids) == len(set(ids)) == len(acknowledged)  # none lost, none twice
        event_ids = {headers_of(r)["ce_id"] for r in ours}
        for service in consumers:
            handlings = Handlings.of(service)
            assert event_ids <= set(handlings.total), f"{service.name} missed an event"
            assert handlings.repeated() == {}, f"{service.name} handled an event twice"

        per_key: dict[str, list[int]] = {}
        for record in sorted(ours, key=lambda r: (r.partition, r.offset)):
            key = (record.key or b"").decode()
            if key in acknowledged:
                version = int(headers_of(record)["ce_type"].endswith("updated.v1")) + 1
                per_key.setdefault(key, []).append(version)
        for key, versions in per_key.items():
            assert versions == sorted(versions), f"order broken for {key}: {versions}"
            assert sorted(set(versions)) == list(range(1, acknowledged[key] + 1))
        assert all(process.process and process.process.poll() is None for process in system.all)
        print(  # noqa: T201 - the figures the closing note reports
            f"\n[broker-kill] companies={len(acknowledged)} "
            f"updates={sum(v - 1 for v in acknowledged.values())} "
            f"records={sum(len(v) for v in per_key.values())} redelivered={len(ours)} lost=0 "
            "handled_twice=0"
        )
    finally:
        stop_system(system)
