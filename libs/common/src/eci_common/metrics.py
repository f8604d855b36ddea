"""Prometheus metrics of one service process, served at `/metrics`.

One registry per process (not the library's global one), so that tests can run several apps in
one interpreter. Gauges (outbox backlog, consumer lag) are set by the service's background
observation (`eci_common.health`), so a scrape reads memory only and queries nothing.
"""

from typing import Protocol

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest


class Metrics:
    """The counters, histograms and gauges every service exposes."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.consumed = Counter(
            "eci_events_consumed",
            "Records read by a consumer group, by outcome.",
            ["service", "group", "type", "outcome"],
            registry=self.registry,
        )
        self.retried = Counter(
            "eci_events_retried",
            "Handler attempts that failed and were retried, by error kind.",
            ["service", "group", "kind"],
            registry=self.registry,
        )
        self.published = Counter(
            "eci_events_published",
            "Events the outbox relay published (acknowledged by all in-sync replicas).",
            ["service", "topic"],
            registry=self.registry,
        )
        self.outbox_quarantined = Counter(
            "eci_outbox_quarantined",
            "Outbox events the broker refused for good (or unreadable), set aside with the later "
            "events of their aggregate until an operator resends them (eci-admin outbox).",
            ["service", "topic"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "eci_handler_seconds",
            "Time to handle one record, retries included.",
            ["service", "type"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.outbox_backlog = Gauge(
            "eci_outbox_backlog",
            "Events written to outboxes and not yet published (-1: database unreachable).",
            ["service"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "eci_consumer_lag",
            "Records between a consumer's position and the end of the partition.",
            ["service", "topic", "partition"],
            registry=self.registry,
        )


class Observed(Protocol):
    """What `/metrics` asks: `app.state.runtime`, set in the service's lifespan."""

    metrics: Metrics


def metrics_router() -> APIRouter:
    """`GET /metrics` in Prometheus text format: the registry as it stands, no query."""
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        runtime: Observed = request.app.state.runtime
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
