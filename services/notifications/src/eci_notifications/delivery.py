"""The delivery worker: sends what is due (e-mails, webhook calls) from the database, retries
with exponential backoff, records each outcome and publishes it through the outbox.

Every replica reads the same due deliveries; each attempt is claimed first (`Claims`, an insert
of `<id>|<attempt>|<take>`), then the notification is read again, and only a claim holder that
still finds the attempt to make sends it. An outcome whose version-guarded record no longer
matches (another writer came first) is logged and counted as `stale_record`, never as done.

Kept out of the Kafka handlers on purpose: a slow SMTP server or webhook receiver delays this
loop, never the consumption of events.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter

from eci_common import clock
from eci_common.envelope import Event, new_event
from eci_common.events.base import EventPayload
from eci_common.events.notifications import NotificationDeliveredV1, NotificationFailedV1
from eci_common.logging import get_logger
from eci_notifications.channels import DeliveryFailed, Email, Mailer, WebhookCaller
from eci_notifications.claims import Claims
from eci_notifications.domain import (
    ENDPOINT_DISABLED,
    Channel,
    Notification,
    Status,
    retry_delay,
)
from eci_notifications.repository import NotificationRepository
from eci_notifications.subscriptions import SubscriptionRepository

SOURCE = "/eci/notifications"
log = get_logger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try: attempts, the backoff ladder, when an endpoint is switched off."""

    max_attempts: int = 6
    backoff_initial_s: float = 30.0
    backoff_max_s: float = 3600.0
    disable_after: int = 10
    batch: int = 50
    concurrency: int = 8  # attempts in flight at once in one replica


class DeliveryStats:
    """What the worker did with the attempts it saw, by channel (served at `/metrics`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.attempts = Counter(
            "eci_delivery_attempts",
            "Delivery attempts by outcome: sent, retry, failed; claimed_elsewhere (another "
            "replica holds the claim), already_done (read again after the claim), stale_record "
            "(the outcome's record lost to another writer: not counted as done).",
            ["channel", "outcome"],
            registry=registry or CollectorRegistry(),
        )

    def count(self, notification: Notification, outcome: str) -> None:
        self.attempts.labels(notification.channel.value, outcome).inc()


@dataclass(frozen=True)
class Outlets:
    """The stores and channels the worker uses."""

    notifications: NotificationRepository
    subscriptions: SubscriptionRepository
    mailer: Mailer
    webhooks: WebhookCaller
    wake_outbox: Callable[..., None]  # rings the relay after a write, naming the ids
    claims: Claims  # who sends which attempt, shared by every replica
    stats: DeliveryStats = field(default_factory=DeliveryStats)


async def deliver_due(*, outlets: Outlets, policy: DeliveryPolicy, now: datetime) -> int:
    """One pass: every due delivery is attempted once by one replica, up to `concurrency` at a
    time; how many this one attempted (0 when the others hold every claim: the loop then waits
    for its next turn). A failure of one attempt never cancels another one in flight (a send
    cut off before its record would be sent again after its lease)."""
    due = await outlets.notifications.due(now, limit=policy.batch)
    slots = asyncio.Semaphore(policy.concurrency)

    async def one(notification: Notification) -> Notification | None:
        async with slots:
            return await attempt(outlets=outlets, policy=policy, notification=notification, now=now)

    outcomes = await asyncio.gather(*(one(n) for n in due), return_exceptions=True)
    recorded = [o.id for o in outcomes if isinstance(o, Notification)]
    if recorded:
        outlets.wake_outbox(*recorded)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return len(recorded)


async def attempt(
    *, outlets: Outlets, policy: DeliveryPolicy, notification: Notification, now: datetime
) -> Notification | None:
    """Claims the next attempt of one delivery, sends it and records what happened (sent,
    retry later, or failed); None when another replica has it or it is no longer due.

    A first claim of an attempt (take 0) proves that nobody made that attempt: the list just
    read is current. A take-over (take > 0) follows a holder that may have sent and recorded
    before it died, so the notification is read again first."""
    claim = await outlets.claims.take(notification.id, notification.attempts + 1)
    if claim is None:
        outlets.stats.count(notification, "claimed_elsewhere")
        return None
    current: Notification | None = notification
    if claim.take > 0:
        current = await outlets.notifications.get(notification.id)
    if current is None or current.version != notification.version or not claim.fresh():
        outlets.stats.count(notification, "already_done")
        return None
    return await _attempt(outlets, policy, current, now)


async def _attempt(
    outlets: Outlets, policy: DeliveryPolicy, notification: Notification, now: datetime
) -> Notification | None:
    attempts = notification.attempts + 1
    try:
        await _send(outlets, notification, policy, now)
    except DeliveryFailed as exc:
        if exc.permanent or attempts >= policy.max_attempts:
            failed = replace(
                notification,
                status=Status.FAILED,
                reason=exc.reason,
                attempts=attempts,
                next_attempt_at=None,
            )
            log.warning("delivery_failed", notification_id=notification.id, reason=exc.reason)
            return await _record(outlets, failed, [failed_event(failed, now)], "failed")
        delay = retry_delay(
            attempts, initial_s=policy.backoff_initial_s, max_s=policy.backoff_max_s
        )
        # The wait runs from the failure, not from the start of the pass: a slow endpoint (or a
        # long pass) must not eat the backoff and bring the retry at once.
        failed_at = max(now, clock.now())
        retry = replace(
            notification, reason=exc.reason, attempts=attempts, next_attempt_at=failed_at + delay
        )
        log.info(
            "delivery_retry",
            notification_id=notification.id,
            reason=exc.reason,
            attempts=attempts,
            retry_in_s=delay.total_seconds(),
        )
        return await _record(outlets, retry, [], "retry")
    sent = replace(
        notification,
        status=Status.SENT,
        reason=None,
        attempts=attempts,
        next_attempt_at=None,
        sent_at=now,
    )
    return await _record(outlets, sent, [delivered_event(sent, now)], "sent")


async def _record(
    outlets: Outlets, outcome: Notification, events: list[Event[EventPayload]], what: str
) -> Notification | None:
    """Records the outcome; a guard that no longer matches is said and counted, not done."""
    recorded = await outlets.notifications.record(outcome, events)
    if recorded is None:
        log.warning(
            "delivery_record_stale",
            notification_id=outcome.id,
            outcome=what,
            version=outcome.version,
        )
        outlets.stats.count(outcome, "stale_record")
        return None
    log.info(
        "delivery_recorded", notification_id=outcome.id, outcome=what, attempts=outcome.attempts
    )
    outlets.stats.count(outcome, what)
    return recorded


async def _send(
    outlets: Outlets, notification: Notification, policy: DeliveryPolicy, now: datetime
) -> None:
    if notification.channel is Channel.EMAIL:
        assert notification.address is not None  # noqa: S101 - set for every e-mail
        await outlets.mailer.send(
            Email(
                to=notification.address,
                subject=notification.title,
                text=notification.body,
                html=notification.html,
                delivery_id=notification.id,
            )
        )
        return
    subscription = await outlets.subscriptions.get(notification.recipient)
    if subscription is None or not subscription.active:
        raise DeliveryFailed(ENDPOINT_DISABLED, permanent=True)
    try:
        await outlets.webhooks.call(
            url=subscription.url,
            secret=subscription.secret,
            body=(notification.payload or "").encode(),
            event_type=notification.event_type,
            delivery_id=notification.id,
        )
    except DeliveryFailed as exc:
        await outlets.subscriptions.save(
            subscription.failed(exc.reason, now, disable_after=policy.disable_after)
        )
        raise
    await outlets.subscriptions.save(subscription.succeeded(now))


def _outcome_fields(notification: Notification) -> dict[str, object]:
    return {
        "notification_id": notification.id,
        "version": notification.version + 1,  # the version `record` stores
        "channel": notification.channel.value,
        "kind": notification.kind,
        "cause_event_type": notification.event_type,
        "cause_event_id": notification.event_id,
        "recipient_company_id": notification.recipient_company_id,
        "subscription_id": (
            notification.recipient if notification.channel is Channel.WEBHOOK else None
        ),
        "attempts": max(notification.attempts, 1),
    }


def delivered_event(notification: Notification, now: datetime) -> Event[EventPayload]:
    payload = NotificationDeliveredV1.model_validate(
        {**_outcome_fields(notification), "delivered_at": now}
    )
    return new_event(
        payload,
        source=SOURCE,
        correlation_id=notification.correlation_id,
        causation_id=notification.event_id,
    )


def failed_event(notification: Notification, now: datetime) -> Event[EventPayload]:
    payload = NotificationFailedV1.model_validate(
        {**_outcome_fields(notification), "reason": notification.reason or "", "failed_at": now}
    )
    return new_event(
        payload,
        source=SOURCE,
        correlation_id=notification.correlation_id,
        causation_id=notification.event_id,
    )
