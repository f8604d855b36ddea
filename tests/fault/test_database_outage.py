"""The database stopped for 30 s under load: offsets never pass unprocessed events, the backlog
drains afterwards, nothing is lost, nothing is applied twice.

A tenth of the stream's records are redeliveries (copies of earlier ones), and handlings are
counted from the service's log: the one process handles each event once, through the outage.
Notification documents alone could not see a second handling: their ids are deterministic."""

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eci_common.mongo import MongoClient, create_mongo_client
from eci_common.settings import MongoSettings
from eci_common.topics import REGISTRY_COMPANIES
from support.endpoints import Endpoints
from support.handlings import Handlings
from support.kafka_io import company_records, produce_many, with_redeliveries
from support.offsets import wait_until_consumed
from support.polling import eventually
from support.private_kafka import PrivateFerretDB
from support.services import make_service
from support.toolchain import require_private_broker

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

EVENTS = 1350
REDELIVERED = 150
OUTAGE_S = 30


@pytest.fixture
def private_ferretdb(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PrivateFerretDB]:
    """A FerretDB on its SQLite backend: stopping it stops the whole database, and it needs no
    PostgreSQL server (the clone's port may be held by another checkout's on a shared machine).
    PostgreSQL stopped behind FerretDB is a test of its own."""
    require_private_broker("needs the infra scripts' toolchain")
    monkeypatch.setenv("FERRETDB_BACKEND", "sqlite")
    database = PrivateFerretDB.create(tmp_path_factory.mktemp("ferretdb"))
    try:
        database.start()
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
    records = with_redeliveries(company_records(run_id, EVENTS), REDELIVERED, random.Random(run_id))
    try:
        service.start()
        await service.wait_ready()
        # Load keeps arriving during the outage: a third before, the rest while it is down.
        await produce_many(endpoints.kafka_bootstrap, records[: len(records) // 3])

        async def some_handled() -> bool:
            return await notifications.estimated_document_count() >= 200

        await eventually(some_handled, timeout=60, interval=2.0, what="consumption under way")
        private_ferretdb.stop()
        down_at = time.monotonic()
        await produce_many(endpoints.kafka_bootstrap, records[len(records) // 3 :])
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
        await wait_until_consumed(
            endpoints.kafka_bootstrap, (service.group,), (REGISTRY_COMPANIES,), timeout=120
        )
        assert service.process is not None
        assert service.process.poll() is None  # recovered without a restart
        stored = await notifications.find(mine, {"company_id": 1}).to_list()
        ids = [doc["company_id"] for doc in stored]
        assert len(ids) == len(set(ids)) == EVENTS
        handlings = Handlings.of(service)
        assert {r.headers["ce_id"] for r in records} <= set(handlings.total)
        assert handlings.repeated() == {}, "an event was handled twice"
    finally:
        service.stop()
        await mongo.close()
