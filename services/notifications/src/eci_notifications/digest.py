"""The daily digest: a contact's digest-mode e-mails of the day, gathered into one message.

`send_daily_digests(now=...)` takes every pending digest notification created before `now`,
groups them by contact, sends one e-mail per contact and marks them sent (each publishing its
`NotificationDelivered`). A digest is claimed per (contact, day) before it is sent, so that one
replica sends it, and remembered once sent: run again, it sends nothing twice, except after a
crash between the SMTP server's acceptance and that record (at least once, once the claim's
lease has run out).
"""

import hashlib
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from itertools import groupby

from eci_common.logging import get_logger
from eci_common.mongo import Collection
from eci_notifications.channels import DeliveryFailed, Email
from eci_notifications.contacts import ContactBook
from eci_notifications.delivery import Outlets, delivered_event
from eci_notifications.domain import Notification, Status
from eci_notifications.templates import DEFAULT_LANGUAGE, Renderer

log = get_logger(__name__)


class DigestLog:
    """Which digests were sent: one document per (contact, day), no personal data."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("company_id", name="by_company")

    async def sent(self, digest_id: str) -> bool:
        return await self._collection.find_one({"_id": digest_id}, {"_id": 1}) is not None

    async def record(
        self,
        digest_id: str,
        *,
        contact_id: str,
        company_id: str | None,
        ids: list[str],
        at: datetime,
    ) -> None:
        await self._collection.replace_one(
            {"_id": digest_id},
            {"contact_id": contact_id, "company_id": company_id, "notifications": ids, "at": at},
            upsert=True,
        )

    async def purge_company(self, company_id: str) -> int:
        return (await self._collection.delete_many({"company_id": company_id})).deleted_count


def digest_id(contact_id: str, day: str) -> str:
    return hashlib.sha256(f"digest|{contact_id}|{day}".encode()).hexdigest()[:32]


def last_digest_time(now: datetime, hour_utc: int) -> datetime:
    """The latest daily cut at or before `now`: the digest loop sends for that cut."""
    cut = datetime.combine(now.date(), time(hour=hour_utc), tzinfo=now.tzinfo)
    return cut if cut <= now else cut - timedelta(days=1)


async def send_daily_digests(
    *,
    outlets: Outlets,
    digests: DigestLog,
    contacts: ContactBook,
    renderer: Renderer,
    now: datetime,
) -> int:
    """One e-mail per contact with pending digest notifications created before `now`; how
    many this replica sent. Each contact's digest of the day is claimed first (`Claims`): with
    several replicas, one sends it and marks its items, the others skip it."""
    pending = await outlets.notifications.digest_pending(now)
    sent = 0
    day = (now - timedelta(seconds=1)).date()  # the day the digest covers
    for contact_id, group in groupby(
        sorted(pending, key=lambda n: (n.recipient, n.created_at)), key=lambda n: n.recipient
    ):
        listed = list(group)
        if listed[0].address is None:
            continue
        identifier = digest_id(contact_id, day.isoformat())
        claim = await outlets.claims.take(identifier, 0)
        if claim is None:
            continue  # another replica has this digest
        items = await _still_pending(outlets, listed)
        if items and not await digests.sent(identifier):
            if not claim.fresh() or not await _send_one(
                outlets,
                contacts=contacts,
                renderer=renderer,
                contact_id=contact_id,
                items=items,
                day=day,
            ):
                await outlets.claims.release(claim)  # the next pass tries again
                continue
            await digests.record(
                identifier,
                contact_id=contact_id,
                company_id=items[0].recipient_company_id,
                ids=[item.id for item in items],
                at=now,
            )
            sent += 1
        for item in items:
            await _mark_sent(outlets, item, now)
        await outlets.claims.finish(identifier)
    if pending:
        outlets.wake_outbox()
    return sent


async def _still_pending(outlets: Outlets, listed: list[Notification]) -> list[Notification]:
    """The items read again after the claim: another replica may have sent them since."""
    items = []
    for item in listed:
        current = await outlets.notifications.get(item.id)
        if current is not None and current.status is Status.PENDING and current.digest:
            items.append(current)
    return items


async def _send_one(
    outlets: Outlets,
    *,
    contacts: ContactBook,
    renderer: Renderer,
    contact_id: str,
    items: list[Notification],
    day: date,
) -> bool:
    contact = await contacts.get(contact_id)
    language = contact.language if contact else DEFAULT_LANGUAGE
    name = contact.name if contact else ""
    words = renderer.render("digest", language, {"recipient": name, "items": items, "day": day})
    address = items[0].address
    assert address is not None  # noqa: S101 - checked before the claim
    try:
        await outlets.mailer.send(
            Email(to=address, subject=words.subject, text=words.text, html=words.html)
        )
    except DeliveryFailed as exc:
        log.warning("digest_failed", contact_id=contact_id, reason=exc.reason)
        return False
    return True


async def _mark_sent(outlets: Outlets, notification: Notification, now: datetime) -> None:
    done = replace(
        notification,
        status=Status.SENT,
        attempts=notification.attempts + 1,
        sent_at=now,
        next_attempt_at=None,
    )
    if await outlets.notifications.record(done, [delivered_event(done, now)]) is None:
        log.warning("digest_record_stale", notification_id=notification.id)
        outlets.stats.count(notification, "stale_record")
