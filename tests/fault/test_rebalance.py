"""Two replicas share the partitions through their consumer group; a replica joining and another
leaving in the middle of a stream neither lose nor duplicate an effect."""

import time
from pathlib import Path

import pytest

from eci_common.mongo import MongoClient
from support.endpoints import Endpoints
from support.kafka_io import company_records, produce_many
from support.polling import eventually
from support.services import make_service

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

EVENTS = 2000


async def test_replica_joining_and_leaving_mid_stream(
    private_endpoints: Endpoints, mongo: MongoClient, run_id: str, log_dir: Path
) -> None:
    await produce_many(private_endpoints.kafka_bootstrap, company_records(run_id, EVENTS))
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
        await eventually(lambda: handled_at_least(EVENTS), timeout=240, interval=2.0, what="all")
    finally:
        for replica in (first, second):
            if replica.process is not None and replica.process.poll() is None:
                replica.stop()
    stored = await notifications.find(mine, {"company_id": 1}).to_list()
    ids = [doc["company_id"] for doc in stored]
    print(f"\n[rebalance] events={EVENTS} total_s={time.monotonic() - started:.0f}")  # noqa: T201
    assert len(ids) == len(set(ids)) == EVENTS
    second_log = second.log_path.read_text()
    assert '"event": "event_handled"' in second_log  # the second replica did take a share
