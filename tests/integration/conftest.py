"""The registry app in-process (its lifespan included) over the real database and broker."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest_asyncio

from eci_projects.read_model import CompanyDirectory
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


async def known_company(
    directory: CompanyDirectory, company_id: str, *, status: str = "active", cluster: str | None
) -> None:
    """A company projects knows (as registry events would tell it), in `cluster` if given."""
    await directory.apply(
        company_id,
        1,
        {
            "legal_name": company_id.title(),
            "country": "FR",
            "region": "Jura",
            "roles": ["assembler"],
            "capabilities": ["assembly"],
            "registered_at": datetime(2024, 5, 30, tzinfo=UTC),
            "status": status,
        },
    )
    if cluster is not None:
        await directory.apply_membership(cluster, company_id, 1, "member")


@pytest_asyncio.fixture
async def client(endpoints: Endpoints, run_id: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(registry_settings(endpoints, f"t_{run_id}_registry"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://registry", headers=staff()
        ) as client:
            yield client
