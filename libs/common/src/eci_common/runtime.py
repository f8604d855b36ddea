"""The clients of one service process, opened and closed in its lifespan.

`ServiceRuntime` owns the MongoDB client, the Kafka broker (producer and subscribers) and the
outbox relay. Nothing here connects at import time; `start` waits for the database and the broker
with backoff, and `stop` leaves in-flight work either finished or uncommitted.
"""

import os
import signal
from collections.abc import Sequence
from typing import Any

import tenacity

from eci_common.consumer import EventConsumer
from eci_common.health import HealthMonitor
from eci_common.idempotency import COLLECTION as PROCESSED_COLLECTION
from eci_common.idempotency import ProcessedEvents, Retention
from eci_common.kafka import BrokerPublisher, create_broker
from eci_common.locks import DocumentLocks
from eci_common.logging import get_logger
from eci_common.metrics import Metrics
from eci_common.mongo import Collection, Database, create_mongo_client, ping
from eci_common.outbox import OutboxRelay, ensure_outbox_indexes
from eci_common.replica_fence import COLLECTION as FENCE_COLLECTION
from eci_common.replica_fence import ReplicaFence, ReplicaRefused, is_ferretdb
from eci_common.settings import ServiceSettings
from eci_common.topics import dead_letter_topic

log = get_logger(__name__)


class ServiceRuntime:
    """MongoDB, Kafka and the outbox relay of one service, with their lifecycle."""

    def __init__(self, settings: ServiceSettings, *, service: str) -> None:
        self.settings = settings
        self.service = service
        self.mongo = create_mongo_client(settings)
        self.db: Database = self.mongo[settings.mongodb_database]
        self.broker = create_broker(
            settings, client_id=f"eci-{service}", graceful_timeout=settings.shutdown_timeout_s
        )
        self.publisher = BrokerPublisher(self.broker)
        self.processed = ProcessedEvents(self.db[PROCESSED_COLLECTION])
        self.relay: OutboxRelay | None = None
        # Shared by every writer of this process: repositories and the outbox relay.
        self.locks = DocumentLocks()
        self.metrics = Metrics(service)
        self._consumers: list[EventConsumer] = []
        self._outbox_collections: list[Collection] = []
        # Readiness and gauges, observed in the background: `/health/ready` and `/metrics`
        # read the last observation and never query anything themselves.
        self.health = HealthMonitor(interval_s=settings.health_refresh_s)
        self.health.probe("mongodb", lambda: ping(self.db))
        self.health.probe("kafka", lambda: self.broker.ping(timeout=2))
        self.health.measure("outbox_backlog", self._measure_backlog)
        self.health.measure("consumer_lag", self._measure_lag)
        self._backlog: int | None = None
        self.retention = Retention(
            self.processed,
            retention_s=settings.consumer_processed_retention_s,
            interval_s=settings.consumer_processed_prune_interval_s,
        )
        self.fence: ReplicaFence | None = None

    def consumer(self, *topics: str) -> EventConsumer:
        """The service's consumer group on these topics; register handlers before `start`."""
        consumer = EventConsumer(
            group=self.settings.consumer_group,
            processed=self.processed,
            dead_letters=self.publisher,
            dead_letter_topic=dead_letter_topic(self.service),
            settings=self.settings,
            metrics=self.metrics,
        )
        consumer.subscribe(self.broker, *topics)
        self._consumers.append(consumer)
        return consumer

    def outbox(self, collections: Sequence[Collection]) -> OutboxRelay:
        """The relay of the collections whose documents carry an outbox."""
        self._outbox_collections = list(collections)
        self.relay = OutboxRelay(
            collections, self.publisher, self.settings, self.locks, self.metrics
        )
        return self.relay

    async def start(self) -> None:
        await self._until_ready("mongodb", lambda: ping(self.db))
        await self._until_ready("replica_fence", self._take_fence)
        for collection in self._outbox_collections:
            await ensure_outbox_indexes(collection)
        if self._consumers and (
            await self.processed.ensure_expiry(self.settings.consumer_processed_retention_s)
            == "service"
        ):
            self.retention.start()  # no TTL index on this database (FerretDB)
        await self._until_ready("kafka", self.broker.start)
        if self.relay is not None:
            self.relay.start()
        await self.health.observe()
        self.health.start()
        log.info("service_started", database=self.settings.mongodb_database)

    async def stop(self) -> None:
        timeout = self.settings.shutdown_timeout_s
        await self.health.stop()
        await self.retention.stop()
        if self.relay is not None:
            await self.relay.stop(timeout / 2)
        await self.broker.stop()
        if self.fence is not None:
            await self.fence.release()
        await self.mongo.close()
        log.info("service_stopped")

    async def readiness(self) -> dict[str, Any]:
        """The last background observation (no I/O): each dependency `ok` or `unreachable`,
        and the outbox backlog while the database answers."""
        checks: dict[str, Any] = self.health.checks()
        if self.relay is not None and self.health.ok("mongodb") and self._backlog is not None:
            checks["outbox"] = {"ok": True, "backlog": self._backlog}
        return checks

    async def _measure_backlog(self) -> None:
        if self.relay is None:
            return
        if not self.health.ok("mongodb"):
            self._backlog = None
            self.metrics.outbox_backlog.labels(self.service).set(-1)
            return
        self._backlog = await self.relay.backlog()
        self.metrics.outbox_backlog.labels(self.service).set(self._backlog)

    async def _measure_lag(self) -> None:
        for consumer in self._consumers:
            for subscriber in consumer.subscribers:
                kafka = getattr(subscriber, "consumer", None)
                if kafka is None:
                    continue
                for partition in kafka.assignment():
                    end = kafka.highwater(partition)
                    if end is None:
                        continue
                    position = await kafka.position(partition)
                    self.metrics.consumer_lag.labels(
                        self.service, partition.topic, str(partition.partition)
                    ).set(max(end - position, 0))

    async def _take_fence(self) -> None:
        """On FerretDB, one replica per service (see `eci_common.replica_fence`)."""
        if not await is_ferretdb(self.db):
            return
        if self.settings.unsafe_allow_replicas_on_ferretdb:
            log.warning("replica_fence_disabled", reason="unsafe_allow_replicas_on_ferretdb")
            return
        fence = ReplicaFence(
            self.db[FENCE_COLLECTION],
            service=self.service,
            lease_s=self.settings.replica_fence_lease_s,
            on_lost=lambda: os.kill(os.getpid(), signal.SIGTERM),
        )
        try:
            await fence.acquire()
        except ReplicaRefused as exc:
            log.error("replica_refused", service=self.service, error=str(exc))  # noqa: TRY400 - the message says it all
            raise
        self.fence = fence

    async def _until_ready(self, name: str, attempt: Any) -> None:
        """`attempt()` until it succeeds, waiting 0.5 s, then twice as long each time up to
        10 s; a refusal of the replica fence is final."""

        def said(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            log.warning(
                "dependency_unavailable",
                dependency=name,
                error_type=type(exc).__name__,
                retry_in_s=round(state.upcoming_sleep, 2),
            )

        async for retrying in tenacity.AsyncRetrying(
            retry=tenacity.retry_if_not_exception_type(ReplicaRefused),
            wait=tenacity.wait_exponential(multiplier=0.5, max=10.0),
            before_sleep=said,
            reraise=True,
        ):
            with retrying:
                await attempt()
