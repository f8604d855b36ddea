"""The idempotency record keeps events for the retention, then forgets them: by a TTL index on
MongoDB, by the service's own periodic pruning on FerretDB (which has no TTL indexes)."""

from datetime import UTC, datetime, timedelta

import pytest

from eci_common.envelope import Event, read_metadata
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.idempotency import TTL_INDEX, ProcessedEvents
from eci_common.mongo import Collection, MongoClient
from eci_common.runtime import ServiceRuntime
from eci_common.settings import ServiceSettings
from support.endpoints import Endpoints
from support.kafka_io import company_records, create_topic
from support.polling import eventually

pytestmark = pytest.mark.integration


async def _on_ferretdb(collection: Collection) -> bool:
    return "ferretdbVersion" in await collection.database.command("buildInfo")


async def _age(collection: Collection, days: float, ids: list[str]) -> None:
    """Makes these records look handled `days` ago."""
    old = datetime.now(UTC) - timedelta(days=days)
    await collection.update_many({"_id": {"$in": ids}}, {"$set": {"handled_at": old}})


async def test_prune_forgets_only_what_is_older_than_the_retention(
    mongo: MongoClient, run_id: str
) -> None:
    collection = mongo[f"t_{run_id}_retention"]["processed_events"]
    processed = ProcessedEvents(collection)
    metas = [read_metadata(r.headers) for r in company_records(run_id, 5)]
    await processed.record("g", metas)
    await _age(collection, 50, [f"g|{meta.source}|{meta.id}" for meta in metas[:3]])

    pruned = await processed.prune(older_than=datetime.now(UTC) - timedelta(days=45))

    assert pruned == 3
    assert [await processed.seen("g", meta) for meta in metas] == [False] * 3 + [True] * 2


async def test_expiry_is_a_ttl_index_where_the_database_has_one(
    mongo: MongoClient, run_id: str
) -> None:
    collection = mongo[f"t_{run_id}_retention"]["processed_events"]
    mode = await ProcessedEvents(collection).ensure_expiry(3600)
    if await _on_ferretdb(collection):
        assert mode == "service"  # FerretDB v1.24: expireAfterSeconds is not implemented
    else:
        assert mode == "ttl"
        assert (await collection.index_information())[TTL_INDEX]["expireAfterSeconds"] == 3600
        # A changed retention changes the index in place.
        assert await ProcessedEvents(collection).ensure_expiry(7200) == "ttl"
        assert (await collection.index_information())[TTL_INDEX]["expireAfterSeconds"] == 7200


async def test_a_running_service_prunes_its_idempotency_record_without_ttl(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    database = f"t_{run_id}_service"
    collection = mongo[database]["processed_events"]
    if not await _on_ferretdb(collection):
        pytest.skip("MongoDB expires the records itself (TTL index), on its own schedule")
    metas = [read_metadata(r.headers) for r in company_records(run_id, 4)]
    await ProcessedEvents(collection).record("g", metas)
    await _age(collection, 2, [f"g|{meta.source}|{meta.id}" for meta in metas[:2]])
    settings = ServiceSettings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        mongodb_uri=endpoints.mongodb_uri,
        mongodb_database=database,
        consumer_group=f"t-{run_id}",
        consumer_processed_retention_s=86_400,
        consumer_processed_prune_interval_s=0.2,
        http_port=0,
    )
    runtime = ServiceRuntime(settings, service="projects")

    @runtime.consumer(await create_topic(endpoints.kafka_bootstrap, partitions=1)).on(
        CompanyRegisteredV1
    )
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        return None

    await runtime.start()
    try:

        async def pruned() -> bool:
            return await collection.count_documents({}) == 2

        await eventually(pruned, timeout=30, interval=0.2, what="the expired records pruned")
    finally:
        await runtime.stop()
    remaining = {doc["_id"] async for doc in collection.find({}, {"_id": 1})}
    assert remaining == {f"g|{meta.source}|{meta.id}" for meta in metas[2:]}
