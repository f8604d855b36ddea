"""Two notifications processes over one database: every e-mail and webhook call is sent once.

The database here is FerretDB, where the replica fence refuses a second process of a service;
the first test switches the fence off (`UNSAFE_ALLOW_REPLICAS_ON_FERRETDB`) because what it
tests is the claim primitive itself (an insert of a unique key, atomic on FerretDB as on
MongoDB), i.e. what several replicas on MongoDB rely on. The sends are counted where they land:
the SMTP sink keeps a file per message received and the webhook receiver a record per call,
both keyed by the `X-ECI-Delivery` header, so that a second send of a delivery shows.

The last test keeps the fence on: a second process refuses to start, and after a kill -9 of
the holder a successor starts within the fence's bound.
"""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eci_common.locks import DocumentLocks
from eci_common.mongo import MongoClient
from eci_notifications.domain import Channel, Notification, RecipientKind, Status
from eci_notifications.repository import MongoNotificationRepository
from eci_notifications.subscriptions import MongoSubscriptionRepository, Subscription
from support.endpoints import Endpoints
from support.polling import eventually
from support.services import ServiceProcess, make_service
from support.smtp_sink import SmtpSink
from support.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

EMAILS = 250
WEBHOOKS = 250
FENCE_LEASE_S = 2.0  # what support.services gives every service process


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[tuple[SmtpSink, WebhookReceiver]]:
    """Where the sends land, each reception kept on its own (a file, a call record)."""
    smtp, hooks = SmtpSink(tmp_path / "mail"), WebhookReceiver()
    smtp.start()
    hooks.start()
    yield smtp, hooks
    hooks.stop()
    smtp.stop()


async def test_two_replicas_send_each_delivery_once(
    private_endpoints: Endpoints,
    mongo: MongoClient,
    run_id: str,
    log_dir: Path,
    sinks: tuple[SmtpSink, WebhookReceiver],
) -> None:
    smtp, receiver = sinks
    overrides = {
        "UNSAFE_ALLOW_REPLICAS_ON_FERRETDB": "true",  # the claims are under test, not the fence
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "DELIVERY_POLL_INTERVAL_S": "0.2",
    }
    (log_dir / "second").mkdir()
    replicas = [
        make_service("notifications", private_endpoints, run_id, log_dir, **overrides),
        make_service("notifications", private_endpoints, run_id, log_dir / "second", **overrides),
    ]
    db = mongo[replicas[0].database]
    subscription = Subscription.create(
        url=receiver.url, event_types=("eci.test.v1",), now=datetime.now(UTC)
    )
    receiver.secret = subscription.secret
    await MongoSubscriptionRepository(db["webhook_subscriptions"], DocumentLocks()).add(
        subscription
    )
    for replica in replicas:
        replica.start()
    try:
        await asyncio.gather(*(replica.wait_ready() for replica in replicas))
        started = time.monotonic()
        await _add_deliveries(
            MongoNotificationRepository(db["notifications"]), run_id, subscription
        )

        async def all_sent() -> bool:
            sent = await db["notifications"].count_documents({"status": Status.SENT.value})
            return sent == EMAILS + WEBHOOKS

        await eventually(all_sent, timeout=90, interval=0.5, what="every delivery sent")
        elapsed = time.monotonic() - started
    finally:
        for replica in replicas:  # SIGTERM: whatever was in flight lands before we count
            if replica.process is not None and replica.process.poll() is None:
                replica.stop()

    emails = Counter(message["X-ECI-Delivery"] for message in smtp.messages())
    calls = Counter(call.headers.get("X-ECI-Delivery") for call in receiver.calls)
    print(  # noqa: T201 - the figures of the run
        f"\n[replicas] deliveries={EMAILS + WEBHOOKS} s={elapsed:.1f} "
        f"emails={sum(emails.values())} calls={sum(calls.values())} "
        f"per_replica={[_recorded(replica) for replica in replicas]}"
    )
    assert set(emails.values()) == {1}, emails.most_common(3)
    assert set(calls.values()) == {1}, calls.most_common(3)
    assert len(emails) == EMAILS
    assert len(calls) == WEBHOOKS
    assert all(_recorded(replica) > 0 for replica in replicas)  # both took a share


async def _add_deliveries(
    repository: MongoNotificationRepository, run_id: str, subscription: Subscription
) -> None:
    now = datetime.now(UTC) - timedelta(seconds=1)
    deliveries = [
        _delivery(f"{run_id}-mail-{i}", Channel.EMAIL, now, address=f"r{i}@example.com")
        for i in range(EMAILS)
    ] + [
        _delivery(f"{run_id}-hook-{i}", Channel.WEBHOOK, now, recipient=subscription.id)
        for i in range(WEBHOOKS)
    ]
    for start in range(0, len(deliveries), 50):
        await asyncio.gather(*(repository.add(d) for d in deliveries[start : start + 50]))


def _delivery(
    identifier: str,
    channel: Channel,
    now: datetime,
    *,
    address: str | None = None,
    recipient: str = "contact",
) -> Notification:
    return Notification(
        id=identifier,
        recipient=recipient,
        recipient_kind=(
            RecipientKind.SUBSCRIPTION if channel is Channel.WEBHOOK else RecipientKind.CONTACT
        ),
        channel=channel,
        kind="test",
        family="test",
        title="Test",
        body="Un message de test",
        company_id=None,
        event_id=f"event-{identifier}",
        correlation_id=identifier,
        created_at=now,
        event_type="eci.test.v1",
        address=address,
        payload=json.dumps({"id": identifier}),
        status=Status.PENDING,
        next_attempt_at=now,
    )


def _recorded(replica: ServiceProcess) -> int:
    return sum(
        1
        for line in replica.log_path.read_text(errors="replace").splitlines()
        if '"event": "delivery_recorded"' in line and '"outcome": "sent"' in line
    )


async def test_a_second_replica_refuses_and_a_killed_ones_successor_starts_in_time(
    private_endpoints: Endpoints, run_id: str, log_dir: Path
) -> None:
    def replica(name: str) -> ServiceProcess:
        (log_dir / name).mkdir()
        return make_service("notifications", private_endpoints, run_id, log_dir / name)

    holder, second, successor = replica("holder"), replica("second"), replica("successor")
    holder.start()
    try:
        await holder.wait_ready()
        second.start()

        async def exited() -> bool:
            return second.process is not None and second.process.poll() is not None

        await eventually(exited, timeout=60, interval=0.2, what="the second replica to exit")
        assert second.process is not None
        assert second.process.returncode != 0
        refusal = second.log_tail(200)
        assert "replica_refused" in refusal
        assert "Run one replica per service on FerretDB" in refusal

        holder.kill()  # -9: the fence stays behind, renewed by nobody
        killed = time.monotonic()
        successor.start()
        await successor.wait_ready()
        ready_in = time.monotonic() - killed
    finally:
        for process in (holder, second, successor):
            if process.process is not None and process.process.poll() is None:
                process.stop()
    waited = _fence_wait_s(successor)
    print(f"\n[fence] successor ready_s={ready_in:.1f} fence_wait_s={waited:.2f}")  # noqa: T201
    # The documented bound: one lease of silence, watched at half-beat steps.
    assert FENCE_LEASE_S <= waited <= FENCE_LEASE_S * 1.25 + 1.0


def _fence_wait_s(process: ServiceProcess) -> float:
    """From the log: how long the successor watched the dead holder's fence."""
    stamps: dict[str, datetime] = {}
    for line in process.log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") in {"replica_fence_waiting", "replica_fence_taken"}:
            stamps[entry["event"]] = datetime.fromisoformat(entry["timestamp"])
    return (stamps["replica_fence_taken"] - stamps["replica_fence_waiting"]).total_seconds()
