"""The notifications app in-process (its lifespan, consumer, delivery worker), over the real
broker and database, with a real SMTP server process; and helpers to publish events to it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eci_common.envelope import Event, new_event, to_record
from eci_common.events.base import EventPayload
from eci_notifications.main import create_app
from eci_notifications.settings import Settings
from support.auth import staff
from support.declared_topics import ensure_declared_topics
from support.endpoints import Endpoints
from support.kafka_io import produce
from support.polling import eventually
from support.services import new_run_id
from support.smtp_sink import SmtpSink

SOURCES = {"registry": "/eci/registry", "projects": "/eci/projects"}


@dataclass
class NotificationsApp:
    client: httpx.AsyncClient
    app: Any
    settings: Settings
    smtp: SmtpSink
    endpoints: Endpoints

    async def publish(
        self, *payloads: EventPayload, correlation_id: str | None = None
    ) -> list[Event[EventPayload]]:
        events = [
            new_event(
                payload,
                source=SOURCES["projects" if ".projects." in payload.event_type else "registry"],
                correlation_id=correlation_id,
            )
            for payload in payloads
        ]
        await produce(self.endpoints.kafka_bootstrap, [to_record(event) for event in events])
        return events

    async def inbox(self, recipient: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/notifications", params={"recipient": recipient, "limit": 500}
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    async def deliveries(self, **params: str) -> list[dict[str, Any]]:
        response = await self.client.get("/deliveries", params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    async def wait_inbox(
        self, recipient: str, kind: str, count: int = 1, timeout: float = 60
    ) -> list[dict[str, Any]]:
        async def arrived() -> list[dict[str, Any]] | None:
            mine = [n for n in await self.inbox(recipient) if n["kind"] == kind]
            return mine if len(mine) >= count else None

        return await eventually(
            arrived, timeout=timeout, what=f"{kind} in the inbox of {recipient}"
        )

    async def contacts_of(
        self, company_id: str, count: int, timeout: float = 60
    ) -> list[dict[str, Any]]:
        async def known() -> list[dict[str, Any]] | None:
            response = await self.client.get(f"/companies/{company_id}/contacts")
            found: list[dict[str, Any]] = response.json()
            return found if len(found) >= count else None

        return await eventually(known, timeout=timeout, what=f"the contacts of {company_id}")


def notifications_settings(endpoints: Endpoints, run_id: str, smtp_port: int) -> Settings:
    return Settings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        mongodb_uri=endpoints.mongodb_uri,
        mongodb_database=f"t_{run_id}_notifications",
        consumer_group=f"t-{run_id}-notifications",
        http_port=0,
        outbox_poll_interval_s=0.2,
        consumer_backoff_max_s=2,
        smtp_port=smtp_port,
        delivery_poll_interval_s=0.2,
        delivery_backoff_initial_s=0.3,
        delivery_backoff_max_s=1.0,
        delivery_max_attempts=4,
        webhook_disable_after=3,
        digest_check_interval_s=3600,
        candidates_top_n=2,
    )


@asynccontextmanager
async def running_notifications(
    endpoints: Endpoints, directory: Path
) -> AsyncIterator[NotificationsApp]:
    await ensure_declared_topics(endpoints.kafka_bootstrap)
    smtp = SmtpSink(directory / "mail")
    smtp.start()
    settings = notifications_settings(endpoints, new_run_id(), smtp.port)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://notifications", headers=staff()
            ) as client:
                yield NotificationsApp(client, app, settings, smtp, endpoints)
    finally:
        smtp.stop()
