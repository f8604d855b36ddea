"""Composition root of the registry: `create_app(settings)` wires every client in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from eci_common import topics
from eci_common.asyncapi import asyncapi_document
from eci_common.asyncapi_http import asyncapi_router
from eci_common.auth import Authenticated, install_auth
from eci_common.http import health_router, install_common
from eci_common.logging import configure_logging
from eci_common.outbox import OutboxRelay
from eci_common.rate_limit import WriteLimited
from eci_common.runtime import ServiceRuntime
from eci_common.segment_roll import SegmentRoller
from eci_registry import api_clusters, api_companies, api_taxonomy
from eci_registry.cluster_repository import MongoClusterRepository
from eci_registry.repository import MongoCompanyRepository
from eci_registry.settings import Settings

SERVICE = "registry"


@dataclass(frozen=True)
class RegistryState:
    """What the routes need, built in the lifespan."""

    companies: MongoCompanyRepository
    clusters: MongoClusterRepository
    relay: OutboxRelay


def create_app(settings: Settings) -> FastAPI:
    """The registry process: REST API, outbox relay (and, later, its own subscribers)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings, service=SERVICE)
        runtime = ServiceRuntime(settings, service=SERVICE)
        companies = MongoCompanyRepository(runtime.db["companies"], runtime.locks)
        clusters = MongoClusterRepository(runtime.db["clusters"], runtime.locks)
        relay = runtime.outbox([runtime.db["companies"], runtime.db["clusters"]])
        app.state.runtime = runtime
        app.state.registry = RegistryState(companies=companies, clusters=clusters, relay=relay)
        # The contacts topic is compacted: its markers bound how long an erasure takes to reach it.
        roller = SegmentRoller(
            settings, topics.REGISTRY_CONTACTS, interval_s=settings.kafka_segment_roll_interval_s
        )
        await runtime.start()
        await companies.ensure_indexes()
        await clusters.ensure_indexes()
        roller.start()
        try:
            yield
        finally:
            await roller.stop()
            await runtime.stop()

    app = FastAPI(
        title="ECI registry",
        summary="Companies, capabilities and clusters (grappes) of the Espace Collaboratif "
        "d'Innovation horloger",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_common(app)
    install_auth(app, settings)
    for router in (api_companies.router, api_clusters.router, api_taxonomy.router):
        app.include_router(router, dependencies=[Authenticated, WriteLimited])
    app.include_router(health_router())
    app.include_router(asyncapi_router(lambda: asyncapi_document(SERVICE)))
    return app
