"""kill -9 of a consuming service at random points of a 10,000-event stream, several times:
afterwards every event's effect exists exactly once, and consumption resumed by itself.

The service is projects, whose effect of a `CompanyRegistered` is one read-model document per
company: its handling is the lightest of the three, which keeps 10,000 events within minutes on
FerretDB (the per-event path is the same consumer as every service's)."""

import asyncio
import random
import time
from pathlib import Path

import pytest

from eci_common.mongo import Collection, Document, MongoClient
from support.endpoints import Endpoints
from support.kafka_io import company_records, produce_many
from support.polling import eventually
from support.services import ServiceProcess, make_service

pytestmark = [pytest.mark.fault, pytest.mark.timeout(1500)]

EVENTS = 10_000
KILLS = 4


async def test_kill_9_during_consumption_loses_and_duplicates_nothing(
    private_endpoints: Endpoints, mongo: MongoClient, run_id: str, log_dir: Path
) -> None:
    await produce_many(private_endpoints.kafka_bootstrap, company_records(run_id, EVENTS))
    service = make_service("projects", private_endpoints, run_id, log_dir)
    effects = mongo[service.database]["companies"]
    mine = {"_id": {"$regex": f"^{run_id}-"}}
    rng = random.Random(run_id)
    # The database is the test's own, so counting the whole collection counts this stream.
    # Counting costs FerretDB a scan of the collection: poll seldom, except to time recoveries.
    # Random points of the stream, spread over it, at which to kill.
    kill_at = sorted(rng.sample(range(EVENTS // 20, EVENTS * 4 // 10), KILLS))

    started = time.monotonic()
    service.start()
    try:
        recoveries, elapsed = await _kill_repeatedly(service, effects, mine, kill_at, started)
    finally:
        if service.process is not None and service.process.poll() is None:
            service.stop()
    await _check(effects, mine, recoveries, elapsed)


async def _kill_repeatedly(
    service: ServiceProcess, effects: Collection, mine: Document, kill_at: list[int], started: float
) -> tuple[list[float], float]:
    recoveries = []
    for threshold in kill_at:

        async def reached(threshold: int = threshold) -> bool:
            return await effects.estimated_document_count() >= threshold

        await eventually(reached, timeout=600, interval=5.0, what=f"{threshold} events handled")
        service.kill()
        killed = time.monotonic()
        before = await effects.estimated_document_count()
        service.start()

        async def resumed(before: int = before) -> bool:
            return await effects.estimated_document_count() > before

        await eventually(resumed, timeout=120, interval=1.0, what="consumption to resume")
        recoveries.append(time.monotonic() - killed)

    async def all_handled() -> bool:
        return await effects.estimated_document_count() >= EVENTS

    await eventually(all_handled, timeout=900, interval=5.0, what="every event's effect")
    elapsed = time.monotonic() - started
    await asyncio.sleep(1)  # anything still in flight would show up as a duplicate now
    return recoveries, elapsed


async def _check(
    effects: Collection, mine: Document, recoveries: list[float], elapsed: float
) -> None:
    stored = await effects.find(mine, {"_id": 1}).to_list()
    company_ids = [doc["_id"] for doc in stored]
    duplicated = len(company_ids) - len(set(company_ids))
    lost = EVENTS - len(set(company_ids))
    print(  # noqa: T201 - the figures the closing note reports
        f"\n[kill-9] events={EVENTS} kills={len(recoveries)} lost={lost} duplicated={duplicated} "
        f"recovery_s={[round(r, 1) for r in recoveries]} total_s={elapsed:.0f}"
    )
    assert lost == 0
    assert duplicated == 0
    assert len(recoveries) == KILLS
