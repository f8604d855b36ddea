"""The database stopped for 30 s under load: offsets never pass unprocessed events, the backlog
drains afterwards, nothing is lost, nothing is applied twice."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eci_common.mongo import MongoClient, create_mongo_client
from eci_common.settings import MongoSettings
from support.endpoints import Endpoints
from support.kafka_io import company_records, produce_many
from support.polling import eventually
from support.private_kafka import PrivateFerretDB
from support.services import make_service
from support.toolchain import require_private_broker

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

EVENTS = 1500
OUTAGE_S = 30


@pytest.fixture
def private_ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateFerretDB]:
    require_private_broker("needs the infra scripts' toolchain")
    database = PrivateFerretDB.create(tmp_path_factory.mktemp("ferretdb"))
    database.start()
    try:
        yield database
    finally:
        database.stop()


async def test_database_outage_under_load_loses_nothing(
    private_endpoints: Endpoints, private_ferretdb: PrivateFerretDB, run_id: str, log_dir: Path
) -> None:
    endpoints = Endpoints(private_endpoints.kafka_bootstrap, private_ferretdb.uri, "private")
    service = make_service("notifications", endpoints, run_id, log_dir)
    mongo: MongoClient = create_mongo_client(
        MongoSettings(mongodb_uri=private_ferretdb.uri, mongodb_database="unused")
    )
    notifications = mongo[service.database]["notifications"]
    mine = {"company_id": {"$regex": f"^{run_id}-"}}
    records = company_records(run_id, EVENTS)
    try:
        service.start()
        await service.wait_ready()
        # Load keeps arriving during the outage: a third before, the rest while it is down.
        await produce_many(endpoints.kafka_bootstrap, records[: EVENTS // 3])

        async def some_handled() -> bool:
            return await notifications.estimated_document_count() >= 200

        await eventually(some_handled, timeout=60, interval=2.0, what="consumption under way")
        private_ferretdb.stop()
        down_at = time.monotonic()
        await produce_many(endpoints.kafka_bootstrap, records[EVENTS // 3 :])
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        private_ferretdb.start()
        up_at = time.monotonic()

        async def drained() -> bool:
            return await notifications.estimated_document_count() >= EVENTS

        await eventually(drained, timeout=240, interval=2.0, what="the backlog to drain")
        print(  # noqa: T201 - the figures the closing note reports
            f"\n[db-outage] events={EVENTS} outage_s={up_at - down_at:.0f} "
            f"drained_after_s={time.monotonic() - up_at:.0f}"
        )
        await asyncio.sleep(1)
        assert service.process is not None
        assert service.process.poll() is None  # recovered without a restart
        stored = await notifications.find(mine, {"company_id": 1}).to_list()
        ids = [doc["company_id"] for doc in stored]
        assert len(ids) == len(set(ids)) == EVENTS
    finally:
        service.stop()
        await mongo.close()
