"""The channels of notifications over the real broker, database, SMTP server and a local webhook
receiver: signed webhooks, the retry ladder, an endpoint disabled after repeated failures,
preferences (opt-out, digest), the daily digest as one e-mail, and the outcome events."""

import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import ConsumerRecord

from eci_common.events.registry import (
    ClusterClosedV1,
    ClusterUpdatedV1,
    CompanyContactsChangedV1,
    CompanyRegisteredV1,
    ContactV1,
    MemberJoinedV1,
)
from eci_common.topics import NOTIFICATIONS_DELIVERIES
from eci_notifications.channels import SmtpMailer
from eci_notifications.delivery import Outlets
from eci_notifications.digest import DigestLog, send_daily_digests
from eci_notifications.main import smtp_config
from eci_notifications.templates import Renderer
from support.contracts import validate_record
from support.endpoints import Endpoints
from support.kafka_io import headers_of, read_all
from support.polling import eventually
from support.services import new_run_id
from support.webhook_receiver import WebhookReceiver

from .notifications_app import NotificationsApp, running_notifications

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[NotificationsApp]:
    directory: Path = tmp_path_factory.mktemp("notifications-channels")
    async with running_notifications(endpoints, directory) as app:
        # The consumer group is new: let it read the topics' history before the tests subscribe.
        marker = f"marker-{new_run_id()}"
        await app.publish(
            CompanyRegisteredV1(
                company_id=marker,
                version=1,
                legal_name="Marqueur",
                country="FR",
                registered_at=NOW,
            )
        )

        async def caught_up() -> bool:
            return any(n["company_id"] == marker for n in await app.inbox("staff"))

        await eventually(caught_up, timeout=90, what="the history to be read")
        yield app


async def subscribe(app: NotificationsApp, receiver: WebhookReceiver, event_type: str) -> str:
    response = await app.client.post(
        "/webhooks", json={"url": receiver.url, "event_types": [event_type]}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secret = created["secret"]
    assert "secret" not in (await app.client.get(f"/webhooks/{created['id']}")).json()
    return str(created["id"])


async def test_webhook_is_signed_and_retried_until_the_receiver_recovers(
    service: NotificationsApp,
) -> None:
    receiver = WebhookReceiver(fail_first=2)
    receiver.start()
    try:
        subscription = await subscribe(service, receiver, ClusterUpdatedV1.event_type)
        cluster = f"cls-{new_run_id()}"
        [event] = await service.publish(
            ClusterUpdatedV1(
                cluster_id=cluster,
                version=2,
                name="Grappe SAV",
                theme="after_sales",
                changed_fields=["name"],
                updated_at=NOW,
            )
        )

        async def delivered() -> dict[str, Any] | None:
            found = await service.deliveries(recipient=subscription, channel="webhook")
            mine = [d for d in found if d["event_id"] == event.meta.id]
            return mine[0] if mine and mine[0]["status"] == "sent" else None

        state = await eventually(delivered, timeout=60, what="the webhook to be delivered")
    finally:
        receiver.stop()
    assert state["attempts"] == 3
    calls = receiver.of(state["id"])
    assert [call.verified for call in calls] == [True, True, True]
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    # The ladder: at least 0.3 s, then at least 0.6 s (plus up to one poll of the worker).
    assert gaps[0] >= 0.3
    assert gaps[1] >= 0.6
    body = json.loads(calls[-1].body)
    assert body["id"] == event.meta.id
    assert body["type"] == ClusterUpdatedV1.event_type
    assert body["data"]["name"] == "Grappe SAV"
    health = (await service.client.get(f"/webhooks/{subscription}")).json()
    assert health["active"] is True
    assert health["consecutive_failures"] == 0

    # The outcome is published, through the outbox (whose relay may be idle for a few seconds),
    # and matches its contract.
    async def published() -> list[ConsumerRecord[bytes, bytes]] | None:
        records = await read_all(
            service.endpoints.kafka_bootstrap,
            NOTIFICATIONS_DELIVERIES,
            expect=10**9,
            timeout_ms=2000,
        )
        found = [r for r in records if r.key is not None and r.key.decode() == state["id"]]
        return found or None

    mine = await eventually(published, timeout=60, what="the delivery outcome on its topic")
    assert [headers_of(r)["ce_type"].split(".")[-2] for r in mine] == ["delivered"]
    validate_record(headers_of(mine[0]), mine[0].value or b"")


async def test_endpoint_is_disabled_after_repeated_failures(service: NotificationsApp) -> None:
    receiver = WebhookReceiver(fail_first=-1)
    receiver.start()
    try:
        subscription = await subscribe(service, receiver, ClusterClosedV1.event_type)
        events = await service.publish(
            *(
                ClusterClosedV1(cluster_id=f"cls-{new_run_id()}", version=3, closed_at=NOW)
                for _ in range(3)
            )
        )
        ours = {event.meta.id for event in events}

        async def disabled() -> dict[str, Any] | None:
            found: dict[str, Any] = (await service.client.get(f"/webhooks/{subscription}")).json()
            return found if not found["active"] else None

        health = await eventually(disabled, timeout=60, what="the endpoint to be disabled")
        assert health["consecutive_failures"] == 3
        assert health["last_error"] == "http_503"
        assert health["disabled_at"] is not None
        calls = len(receiver.calls)

        async def all_failed() -> list[dict[str, Any]] | None:
            found = await service.deliveries(recipient=subscription)
            mine = [d for d in found if d["event_id"] in ours]
            done = len(mine) == 3 and all(d["status"] == "failed" for d in mine)
            return mine if done else None

        states = await eventually(all_failed, timeout=60, what="every delivery to fail")
        assert "endpoint_disabled" in {d["reason"] for d in states}
        assert len(receiver.calls) == calls  # nothing is sent to a disabled endpoint
        enabled = (await service.client.post(f"/webhooks/{subscription}/enable")).json()
        assert enabled["active"] is True
    finally:
        receiver.stop()
    listed = (await service.client.get("/webhooks")).json()
    assert subscription in {s["id"] for s in listed}
    assert (await service.client.delete(f"/webhooks/{subscription}")).status_code == 204
    assert (await service.client.get(f"/webhooks/{subscription}")).status_code == 404


async def _company_with_contact(
    service: NotificationsApp, cluster: str, name: str, email: str, language: str = "fr"
) -> tuple[str, str]:
    company = f"cmp-{new_run_id()}"
    await service.publish(
        CompanyRegisteredV1(
            company_id=company, version=1, legal_name=name, country="FR", registered_at=NOW
        ),
        CompanyContactsChangedV1(
            company_id=company,
            version=1,
            changed_at=NOW,
            contacts=[ContactV1(name=name, email=email, language=language, consent=True)],  # type: ignore[arg-type]
        ),
    )
    [contact] = await service.contacts_of(company, 1)
    return company, str(contact["id"])


async def test_opt_out_suppresses_and_digest_gathers_a_day_into_one_email(
    service: NotificationsApp,
) -> None:
    run = new_run_id()
    cluster = f"cls-{run}"
    reader = f"digest.{run}@example.org"
    quiet = f"quiet.{run}@example.org"
    company, contact = await _company_with_contact(service, cluster, "Lecteur Quotidien", reader)
    _, silent = await _company_with_contact(service, cluster, "Muet", quiet)
    digest = {"modes": {"clusters": {"email": "digest"}}}
    assert (await service.client.put(f"/contacts/{contact}/preferences", json=digest)).is_success
    off = {"modes": {"clusters": {"email": "off", "inbox": "off"}}}
    assert (await service.client.put(f"/contacts/{silent}/preferences", json=off)).is_success
    bad = {"modes": {"clusters": {"inbox": "digest"}}}
    assert (
        await service.client.put(f"/contacts/{contact}/preferences", json=bad)
    ).status_code == 422
    silent_company = (await service.client.get(f"/contacts/{silent}/preferences")).json()
    assert silent_company["modes"]["clusters"]["email"] == "off"

    members = [company, *(f"m{i}-{run}" for i in range(3))]
    await service.publish(
        MemberJoinedV1(
            cluster_id=cluster, version=1, company_id=company, role="animator", joined_at=NOW
        ),
        *(
            MemberJoinedV1(
                cluster_id=cluster, version=v, company_id=m, role="member", joined_at=NOW
            )
            for v, m in enumerate(members[1:], start=2)
        ),
    )

    async def gathered() -> list[dict[str, Any]] | None:
        found = await service.deliveries(recipient=contact, channel="email", status="pending")
        return found if len(found) == 3 else None

    pending = await eventually(gathered, timeout=60, what="three digest e-mails pending")
    assert all(d["digest"] for d in pending)
    assert service.smtp.to(reader) == []  # nothing sent immediately

    state = service.app.state
    outlets = Outlets(
        notifications=state.notifications,
        subscriptions=state.subscriptions,
        mailer=SmtpMailer(smtp_config(service.settings)),
        webhooks=None,  # type: ignore[arg-type]  # a digest never calls a webhook
        wake_outbox=state.runtime.relay.wake,
        claims=state.claims,
    )
    digests = DigestLog(state.runtime.db["digests"])
    cut = datetime.now(UTC) + timedelta(seconds=1)
    arguments = {
        "outlets": outlets,
        "digests": digests,
        "contacts": state.contacts,
        "renderer": Renderer(),
        "now": cut,
    }
    assert await send_daily_digests(**arguments) >= 1

    async def one_mail() -> bool:
        return len(service.smtp.to(reader)) == 1

    await eventually(one_mail, timeout=10, what="the digest e-mail")
    assert await send_daily_digests(**arguments) == 0  # a second run sends nothing more
    [message] = service.smtp.to(reader)
    assert message["Subject"].endswith(": 3 notifications")
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.count("\n* ") == 3  # three items in one message
    sent = await service.deliveries(recipient=contact, channel="email")
    assert {d["status"] for d in sent} == {"sent"}

    # The contact who opted out hears nothing, and the state says why.
    assert service.smtp.to(quiet) == []
    assert await service.inbox(silent) == []
    del silent_company
