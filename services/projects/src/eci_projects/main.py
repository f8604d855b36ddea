"""Composition root of projects: `create_app(settings)` wires every client in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eci_common import topics
from eci_common.asyncapi import asyncapi_document
from eci_common.asyncapi_http import asyncapi_router
from eci_common.auth import Authenticated, install_auth
from eci_common.http import health_router, install_common
from eci_common.logging import configure_logging
from eci_common.rate_limit import WriteLimited
from eci_common.runtime import ServiceRuntime
from eci_projects import api_directory, api_projects
from eci_projects.handlers import HANDLED_EVENTS, register_handlers
from eci_projects.live_model import LiveModel
from eci_projects.read_model import MongoCompanyDirectory
from eci_projects.repository import MongoProjectRepository
from eci_projects.settings import Settings

SERVICE = "projects"


def create_app(settings: Settings) -> FastAPI:
    """The projects process: REST API and the subscribers that keep its read model."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings, service=SERVICE)
        runtime = ServiceRuntime(settings, service=SERVICE)
        directory = MongoCompanyDirectory.live(LiveModel(runtime.db))
        projects = MongoProjectRepository(runtime.db["projects"], runtime.locks)
        consumer = runtime.consumer(topics.REGISTRY_COMPANIES, topics.REGISTRY_CLUSTERS)
        register_handlers(consumer, directory, projects)
        app.state.runtime = runtime
        app.state.directory = directory
        app.state.projects = projects
        app.state.relay = runtime.outbox([runtime.db["projects"]])
        await runtime.start()
        await directory.ensure_indexes()
        await projects.ensure_indexes()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="ECI projects",
        summary="Collaborative projects of the clusters (grappes), calls for partners",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_common(app)
    install_auth(app, settings)
    for router in (api_projects.router, api_directory.router):
        app.include_router(router, dependencies=[Authenticated, WriteLimited])
    app.include_router(health_router())
    app.include_router(asyncapi_router(lambda: asyncapi_document(SERVICE, receives=HANDLED_EVENTS)))
    return app
