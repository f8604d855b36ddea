"""Two replicas share the partitions through their consumer group; a replica joining and another
leaving in the middle of a stream neither lose nor duplicate an effect.

A tenth of the stream's records are redeliveries (copies of earlier ones). Handlings are counted
from the replicas' logs: no replica handles an event twice, and only a batch in hand when its
partition moved may be handled again by the other. Notification documents alone could not see a
second handling: their ids are deterministic."""

import random
import time
from pathlib import Path

import pytest

from eci_common.mongo import MongoClient
from eci_common.settings import ConsumerSettings
from eci_common.topics import REGISTRY_COMPANIES
from support.endpoints import Endpoints
from support.handlings import Handlings
from support.kafka_io import company_records, produce_many, with_redeliveries
from support.offsets import wait_until_consumed
from support.polling import eventually
from support.services import make_service

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

EVENTS = 1800
REDELIVERED = 200
REBALANCES = 2  # the newcomer joins, then the first replica leaves
BATCH = ConsumerSettings.model_fields["consumer_batch_max_records"].default


async def test_replica_joining_and_leaving_mid_stream(
    private_endpoints: Endpoints, mongo: MongoClient, run_id: str, log_dir: Path
) -> None:
    records = with_redeliveries(company_records(run_id, EVENTS), REDELIVERED, random.Random(run_id))
    await produce_many(private_endpoints.kafka_bootstrap, records)
    # Two processes of one service on one FerretDB database: the replica fence would refuse the
    # second, so it is switched off here. What this tests is the consumer group's rebalance and
    # the consumer's deduplication (an insert of a unique key, atomic on FerretDB too), not that
    # replicas are safe on FerretDB in general (they are not: see docs/operations.md).
    unsafe = {"UNSAFE_ALLOW_REPLICAS_ON_FERRETDB": "true"}
    first = make_service("notifications", private_endpoints, run_id, log_dir, **unsafe)
    # Same group and database, its own port and log: a second replica.
    second = make_service("notifications", private_endpoints, run_id, log_dir / "second", **unsafe)
    (log_dir / "second").mkdir()
    assert first.database == second.database
    notifications = mongo[first.database]["notifications"]
    mine = {"company_id": {"$regex": f"^{run_id}-"}}

    async def handled_at_least(count: int) -> bool:
        return await notifications.estimated_document_count() >= count

    started = time.monotonic()
    first.start()
    try:
        await eventually(
            lambda: handled_at_least(EVENTS // 5), timeout=120, interval=2.0, what="first fifth"
        )
        second.start()  # rebalance: partitions move to the newcomer mid-stream
        await eventually(
            lambda: handled_at_least(EVENTS // 2), timeout=120, interval=2.0, what="half"
        )
        assert first.stop() in (0, -15)  # rebalance again: the survivor takes everything
        await wait_until_consumed(
            private_endpoints.kafka_bootstrap, (second.group,), (REGISTRY_COMPANIES,), timeout=240
        )
    finally:
        for replica in (first, second):
            if replica.process is not None and replica.process.poll() is None:
                replica.stop()
    stored = await notifications.find(mine, {"company_id": 1}).to_list()
    ids = [doc["company_id"] for doc in stored]
    handlings = Handlings.of(first, second)
    twice_in_one_replica = handlings.twice_in_one_instance()
    again_after_a_move = handlings.repeated()
    print(  # noqa: T201 - the figures the closing note reports
        f"\n[rebalance] events={EVENTS} redelivered={REDELIVERED} "
        f"twice_in_one_replica={len(twice_in_one_replica)} "
        f"handled_again_after_a_move={len(again_after_a_move)} "
        f"total_s={time.monotonic() - started:.0f}"
    )
    assert len(ids) == len(set(ids)) == EVENTS
    assert {r.headers["ce_id"] for r in records} <= set(handlings.total)
    assert twice_in_one_replica == {}, "a replica handled an event twice"
    assert len(again_after_a_move) <= REBALANCES * BATCH
    second_log = second.log_path.read_text()
    assert '"event": "event_handled"' in second_log  # the second replica did take a share
