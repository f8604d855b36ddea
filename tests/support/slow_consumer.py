"""A minimal service process for fault tests: the real runtime (FastAPI lifespan, FastStream
subscriber with manual commits, idempotency record) around a handler that takes its time.

    python -m support.slow_consumer   (env: KAFKA_BOOTSTRAP_SERVERS, MONGODB_URI, SLOW_TOPIC,
                                       SLOW_SECONDS, SLOW_DATABASE, SLOW_PORT, SLOW_SHUTDOWN_S)

Each handled event inserts one document keyed by its event id into `effects`.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pymongo.errors import DuplicateKeyError

from eci_common.envelope import Event
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.http import health_router, install_common
from eci_common.logging import configure_logging
from eci_common.runtime import ServiceRuntime
from eci_common.server import serve
from eci_common.settings import ServiceSettings


def create_app(settings: ServiceSettings, topic: str, seconds: float) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings, service="slow")
        runtime = ServiceRuntime(settings, service="notifications")
        effects = runtime.db["effects"]
        consumer = runtime.consumer(topic)

        @consumer.on(CompanyRegisteredV1)
        async def handle(event: Event[CompanyRegisteredV1]) -> None:
            await effects.update_one({"_id": "started"}, {"$inc": {"count": 1}}, upsert=True)
            await asyncio.sleep(seconds)
            with contextlib.suppress(DuplicateKeyError):  # a redelivery after the effect
                await effects.insert_one({"_id": event.meta.id, "company": event.data.company_id})

        app.state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(lifespan=lifespan)
    install_common(app)
    app.include_router(health_router())
    return app


def main() -> None:
    settings = ServiceSettings(
        mongodb_database=os.environ["SLOW_DATABASE"],
        consumer_group=os.environ["SLOW_DATABASE"],
        http_port=int(os.environ["SLOW_PORT"]),
        shutdown_timeout_s=float(os.environ.get("SLOW_SHUTDOWN_S", "3")),
    )
    serve(
        create_app(settings, os.environ["SLOW_TOPIC"], float(os.environ["SLOW_SECONDS"])), settings
    )


if __name__ == "__main__":
    main()
