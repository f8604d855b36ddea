"""Composition root of notifications: `create_app(settings)` wires every client in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from eci_common import topics
from eci_common.http import health_router, install_common
from eci_common.logging import configure_logging
from eci_common.runtime import ServiceRuntime
from eci_notifications.api import router
from eci_notifications.handlers import register_handlers
from eci_notifications.repository import MongoNotificationRepository
from eci_notifications.settings import Settings

SERVICE = "notifications"


def create_app(settings: Settings) -> FastAPI:
    """The notifications process: REST API (inbox) and the subscribers that notify."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings, service=SERVICE)
        runtime = ServiceRuntime(settings, service=SERVICE)
        notifications = MongoNotificationRepository(runtime.db["notifications"])
        register_handlers(runtime.consumer(topics.REGISTRY_COMPANIES), notifications)
        app.state.runtime = runtime
        app.state.notifications = notifications
        await runtime.start()
        await notifications.ensure_indexes()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="ECI notifications",
        summary="Who hears about what, through which channel",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_common(app)
    app.include_router(router)
    app.include_router(health_router())
    return app
