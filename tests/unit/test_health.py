"""Readiness and metrics serve the service's last background observation: calling them queries
nothing, and a failed dependency says `unreachable`, never the exception's text."""

import json

import httpx
import pytest
from fastapi import FastAPI
from pymongo.errors import OperationFailure

from eci_common import runtime as runtime_module
from eci_common.health import HealthMonitor
from eci_common.http import health_router
from eci_common.metrics import metrics_router
from eci_common.mongo import Database
from eci_common.runtime import ServiceRuntime
from eci_common.settings import ServiceSettings

_SECRET_LOOKING = "db-primary.internal.example:27017 password=hunter2"


async def test_a_failed_probe_says_unreachable_and_nothing_of_the_error() -> None:
    monitor = HealthMonitor(interval_s=60)

    async def failing() -> None:
        raise OperationFailure(f"failed to connect to {_SECRET_LOOKING}", 1)

    async def answering() -> bool:
        return True

    monitor.probe("mongodb", failing)
    monitor.probe("kafka", answering)
    assert monitor.checks()["mongodb"] == {"ok": False, "status": "unknown"}

    await monitor.observe()

    assert monitor.checks() == {
        "mongodb": {"ok": False, "status": "unreachable"},
        "kafka": {"ok": True, "status": "ok"},
    }
    assert "internal" not in json.dumps(monitor.checks())


async def test_readiness_and_metrics_query_nothing_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pings: list[str] = []

    async def ping(database: Database) -> None:
        pings.append(database.name)
        raise OperationFailure(f"no backend at {_SECRET_LOOKING}", 1)

    monkeypatch.setattr(runtime_module, "ping", ping)
    settings = ServiceSettings(
        kafka_bootstrap_servers="127.0.0.1:1",
        mongodb_uri="mongodb://127.0.0.1:1/",
        mongodb_database="t_health",
        consumer_group="g",
        http_port=0,
    )
    runtime = ServiceRuntime(settings, service="registry")
    app = FastAPI()
    app.include_router(health_router())
    app.include_router(metrics_router())
    app.state.runtime = runtime
    try:
        await runtime.health.observe()
        assert len(pings) == 1
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(20):
                ready = await client.get("/health/ready")
                scraped = await client.get("/metrics")
                assert ready.status_code == 503
                assert scraped.status_code == 200
        assert len(pings) == 1  # twenty calls of each, no query
        body = ready.json()
        assert body["checks"]["mongodb"] == {"ok": False, "status": "unreachable"}
        assert body["checks"]["kafka"]["status"] == "unreachable"
        assert "internal" not in ready.text
        assert "127.0.0.1" not in ready.text
    finally:
        await runtime.mongo.close()
