"""kill -9 of a consuming service at random points of a 10,000-record stream, several times:
afterwards every event's effect exists exactly once, and consumption resumed by itself.

The service is projects, whose effect of a `CompanyRegistered` is one read-model document per
company: its handling is the lightest of the three, which keeps 10,000 records within minutes on
FerretDB (the per-event path is the same consumer as every service's).

A tenth of the records are redeliveries (copies of earlier ones). Handlings are counted from the
service's log, per process instance: no instance handles an event twice, and across instances
only the batch a kill interrupted (handled, not yet recorded nor committed) may be handled again,
its effect kept single by the handler's version guard. Read-model documents alone could not see a
second handling: their ids are the company ids."""

import random
import time
from pathlib import Path

import pytest

from eci_common.mongo import Collection, Document, MongoClient
from eci_common.settings import ConsumerSettings
from eci_common.topics import REGISTRY_COMPANIES
from support.endpoints import Endpoints
from support.handlings import Handlings
from support.kafka_io import company_records, produce_many, with_redeliveries
from support.offsets import wait_until_consumed
from support.polling import eventually
from support.services import ServiceProcess, make_service

pytestmark = [pytest.mark.fault, pytest.mark.timeout(1500)]

EVENTS = 9_000
REDELIVERED = 1_000
KILLS = 4
# What one kill may leave to be handled again: one batch, handled but neither recorded nor
# committed.
BATCH = ConsumerSettings.model_fields["consumer_batch_max_records"].default


async def test_kill_9_during_consumption_loses_and_duplicates_nothing(
    private_endpoints: Endpoints, mongo: MongoClient, run_id: str, log_dir: Path
) -> None:
    rng = random.Random(run_id)
    records = with_redeliveries(company_records(run_id, EVENTS), REDELIVERED, rng)
    await produce_many(private_endpoints.kafka_bootstrap, records)
    event_ids = {record.headers["ce_id"] for record in records}
    service = make_service("projects", private_endpoints, run_id, log_dir)
    effects = mongo[service.database]["companies"]
    mine = {"_id": {"$regex": f"^{run_id}-"}}
    # The database is the test's own, so counting the whole collection counts this stream.
    # Counting costs FerretDB a scan of the collection: poll seldom, except to time recoveries.
    # Random points of the stream, spread over it, at which to kill.
    kill_at = sorted(rng.sample(range(EVENTS // 20, EVENTS * 4 // 10), KILLS))

    started = time.monotonic()
    service.start()
    try:
        recoveries = await _kill_repeatedly(service, effects, kill_at)
        # Every record committed: nothing is in flight, a second handling would be in the log.
        await wait_until_consumed(
            private_endpoints.kafka_bootstrap,
            (service.group,),
            (REGISTRY_COMPANIES,),
            timeout=900,
            interval=5.0,
        )
        elapsed = time.monotonic() - started
    finally:
        if service.process is not None and service.process.poll() is None:
            service.stop()
    await _check(
        effects,
        mine,
        handlings=Handlings.of(service),
        event_ids=event_ids,
        recoveries=recoveries,
        elapsed=elapsed,
    )


async def _kill_repeatedly(
    service: ServiceProcess, effects: Collection, kill_at: list[int]
) -> list[float]:
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
    return recoveries


async def _check(
    effects: Collection,
    mine: Document,
    *,
    handlings: Handlings,
    event_ids: set[str],
    recoveries: list[float],
    elapsed: float,
) -> None:
    stored = await effects.find(mine, {"_id": 1}).to_list()
    company_ids = [doc["_id"] for doc in stored]
    duplicated = len(company_ids) - len(set(company_ids))
    lost = EVENTS - len(set(company_ids))
    twice_in_one_instance = handlings.twice_in_one_instance()
    again_after_a_kill = handlings.repeated()
    never_handled = event_ids - set(handlings.total)
    print(  # noqa: T201 - the figures the closing note reports
        f"\n[kill-9] events={EVENTS} redelivered={REDELIVERED} kills={len(recoveries)} "
        f"lost={lost} duplicated={duplicated} twice_in_one_instance={len(twice_in_one_instance)} "
        f"handled_again_after_a_kill={len(again_after_a_kill)} "
        f"recovery_s={[round(r, 1) for r in recoveries]} total_s={elapsed:.0f}"
    )
    assert lost == 0
    assert duplicated == 0
    assert never_handled == set()
    assert twice_in_one_instance == {}, "an instance handled an event twice"
    assert len(again_after_a_kill) <= KILLS * BATCH, "more handled again than the kills explain"
    assert len(handlings.per_instance) == KILLS + 1
    assert len(recoveries) == KILLS
