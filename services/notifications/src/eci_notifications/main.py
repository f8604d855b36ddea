"""Composition root of notifications: `create_app(settings)` wires every client in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from eci_common.asyncapi import asyncapi_document
from eci_common.asyncapi_http import asyncapi_router
from eci_common.auth import Authenticated, install_auth
from eci_common.events.catalog import EVENT_MODELS
from eci_common.http import health_router, install_common
from eci_common.logging import configure_logging
from eci_common.periodic import PeriodicJob
from eci_common.rate_limit import WriteLimited
from eci_common.runtime import ServiceRuntime
from eci_notifications import api, api_contacts, api_webhooks
from eci_notifications.channels import HttpWebhookCaller, SmtpConfig, SmtpMailer
from eci_notifications.claims import Claims
from eci_notifications.contacts import MongoContactBook
from eci_notifications.delivery import DeliveryPolicy, DeliveryStats, Outlets, deliver_due
from eci_notifications.digest import DigestLog, last_digest_time, send_daily_digests
from eci_notifications.directory import Directory
from eci_notifications.handlers import TOPICS, register_handlers
from eci_notifications.repository import MongoNotificationRepository
from eci_notifications.service import Notifier
from eci_notifications.settings import Settings
from eci_notifications.subscriptions import MongoSubscriptionRepository
from eci_notifications.templates import Renderer

SERVICE = "notifications"


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        max_attempts=settings.delivery_max_attempts,
        backoff_initial_s=settings.delivery_backoff_initial_s,
        backoff_max_s=settings.delivery_backoff_max_s,
        disable_after=settings.webhook_disable_after,
        concurrency=settings.delivery_concurrency,
    )


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=(settings.smtp_password.get_secret_value() if settings.smtp_password else None),
        timeout_s=settings.smtp_timeout_s,
        ca_file=settings.smtp_ca_file,
    )


def create_app(settings: Settings) -> FastAPI:
    """The notifications process: REST API, the subscribers that notify, the delivery worker
    and the daily digest."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings, service=SERVICE)
        runtime = ServiceRuntime(settings, service=SERVICE)
        db, locks = runtime.db, runtime.locks
        notifications = MongoNotificationRepository(db["notifications"], locks)
        contacts = MongoContactBook(db["contacts"], db["preferences"], locks)
        directory = Directory(db, locks)
        subscriptions = MongoSubscriptionRepository(db["webhook_subscriptions"], locks)
        digests = DigestLog(db["digests"])
        claims = Claims(db["delivery_claims"], lease_s=settings.delivery_claim_lease_s)
        renderer = Renderer()
        relay = runtime.outbox([notifications.collection])
        http = httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)
        targets = settings.webhook_targets()
        outlets = Outlets(
            notifications=notifications,
            subscriptions=subscriptions,
            mailer=SmtpMailer(smtp_config(settings)),
            webhooks=HttpWebhookCaller(http, targets),
            wake_outbox=relay.wake,
            claims=claims,
            stats=DeliveryStats(runtime.metrics.registry),
        )
        policy = delivery_policy(settings)

        async def deliver() -> None:
            while await deliver_due(outlets=outlets, policy=policy, now=datetime.now(UTC)):
                pass

        async def digest() -> None:
            cut = last_digest_time(datetime.now(UTC), settings.digest_hour_utc)
            await send_daily_digests(
                outlets=outlets, digests=digests, contacts=contacts, renderer=renderer, now=cut
            )

        worker = PeriodicJob("delivery-worker", deliver, settings.delivery_poll_interval_s)
        digester = PeriodicJob("daily-digest", digest, settings.digest_check_interval_s)
        notifier = Notifier(
            notifications=notifications,
            contacts=contacts,
            directory=directory,
            subscriptions=subscriptions,
            renderer=renderer,
            candidates_top_n=settings.candidates_top_n,
            wake_delivery=worker.wake,
        )
        register_handlers(runtime.consumer(*TOPICS), notifier, digests)
        # What the routers read (`eci_notifications.access` and the api modules).
        shared = {
            "runtime": runtime,
            "notifications": notifications,
            "contacts": contacts,
            "subscriptions": subscriptions,
            "claims": claims,
            "webhook_targets": targets,
        }
        for name, value in shared.items():
            setattr(app.state, name, value)
        await runtime.start()
        for store in (notifications, contacts, directory, subscriptions, digests, claims):
            await store.ensure_indexes()
        worker.start()
        digester.start()
        try:
            yield
        finally:
            await worker.stop()
            await digester.stop()
            await runtime.stop()
            await http.aclose()

    app = FastAPI(
        title="ECI notifications",
        summary="Who hears about what, through which channel",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_common(app)
    install_auth(app, settings)
    for router in (api.router, api_contacts.router, api_webhooks.router):
        app.include_router(router, dependencies=[Authenticated, WriteLimited])
    app.include_router(health_router())
    received = tuple(model for model in EVENT_MODELS if model.topic in TOPICS)
    app.include_router(asyncapi_router(lambda: asyncapi_document(SERVICE, receives=received)))
    return app
