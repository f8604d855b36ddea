"""Runs one service process: its FastAPI app (REST) and, through the app's lifespan, its Kafka
subscribers and outbox relay, under uvicorn."""

import uvicorn
from fastapi import FastAPI

from eci_common.settings import HttpSettings


def serve(app: FastAPI, settings: HttpSettings) -> None:
    """Blocks until SIGTERM or SIGINT; then the lifespan closes every client within bounds."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # logging is configured by eci_common.logging
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        lifespan="on",
        # The client address comes from X-Forwarded-For only behind HTTP_TRUSTED_PROXIES
        # (eci_common.rate_limit); uvicorn's own rewriting would trust any local peer.
        proxy_headers=False,
    )
    uvicorn.Server(config).run()
