"""The registry app in-process (its lifespan included) over the real database and broker."""

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from eci_projects.settings import Settings as ProjectsSettings
from eci_registry.main import create_app
from eci_registry.settings import Settings
from support.auth import staff
from support.endpoints import Endpoints


def registry_settings(endpoints: Endpoints, database: str) -> Settings:
    return Settings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        mongodb_uri=endpoints.mongodb_uri,
        mongodb_database=database,
        http_port=0,
        outbox_poll_interval_s=0.2,
    )


def projects_settings(endpoints: Endpoints, run_id: str) -> ProjectsSettings:
    return ProjectsSettings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        mongodb_uri=endpoints.mongodb_uri,
        mongodb_database=f"t_{run_id}_projects",
        consumer_group=f"t-{run_id}-projects",
        http_port=0,
    )


@pytest_asyncio.fixture
async def client(endpoints: Endpoints, run_id: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(registry_settings(endpoints, f"t_{run_id}_registry"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://registry", headers=staff()
        ) as client:
            yield client
