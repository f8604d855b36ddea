"""kill -9 of a consuming service in the middle of a stream: every event has its effect exactly
once afterwards (offsets are committed only after the effect is stored)."""

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eci_common.envelope import KafkaRecord, new_event, to_record
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.mongo import MongoClient
from support.endpoints import Endpoints
from support.kafka_io import produce
from support.polling import eventually
from support.services import make_service

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

EVENTS = 600
KILLS = 3


def _stream(run_id: str) -> list[KafkaRecord]:
    return [
        to_record(
            new_event(
                CompanyRegisteredV1(
                    company_id=f"{run_id}-{index}",
                    version=1,
                    legal_name=f"Entreprise {index}",
                    country="FR",
                    registered_at=datetime.now(UTC),
                ),
                source="/eci/registry",
            )
        )
        for index in range(EVENTS)
    ]


async def test_kill_9_during_consumption_loses_and_duplicates_nothing(
    private_endpoints: Endpoints, mongo: MongoClient, run_id: str, log_dir: Path
) -> None:
    records = _stream(run_id)
    await produce(private_endpoints.kafka_bootstrap, records)
    service = make_service("notifications", private_endpoints, run_id, log_dir)
    notifications = mongo[service.database]["notifications"]
    mine = {"company_id": {"$regex": f"^{run_id}-"}}
    rng = random.Random(run_id)

    service.start()
    kills = 0
    while kills < KILLS:
        # Kill at a random point once consumption is under way and before it is done.
        await service.wait_ready()
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        done = await notifications.count_documents(mine)
        if done >= EVENTS:
            break
        service.kill()
        kills += 1
        service.start()
    await service.wait_ready()

    async def all_handled() -> bool:
        return await notifications.count_documents(mine) >= EVENTS

    await eventually(all_handled, timeout=180, interval=0.5, what="every event's notification")
    service.stop()

    stored = await notifications.find(mine, {"company_id": 1}).to_list()
    company_ids = [doc["company_id"] for doc in stored]
    assert len(company_ids) == EVENTS, "an event lost or duplicated"
    assert set(company_ids) == {f"{run_id}-{index}" for index in range(EVENTS)}
    assert kills >= 1, "the stream finished before any kill: the test proved nothing"
