"""Two replicas running the daily digest at the same moment over one database send each
contact's digest once and mark each item once (one `NotificationDelivered` in its outbox)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from eci_common.locks import DocumentLocks
from eci_common.mongo import Database, MongoClient
from eci_notifications.channels import Email
from eci_notifications.claims import Claims
from eci_notifications.contacts import MongoContactBook
from eci_notifications.delivery import Outlets
from eci_notifications.digest import DigestLog, send_daily_digests
from eci_notifications.domain import Channel, Notification, RecipientKind, Status
from eci_notifications.repository import MongoNotificationRepository
from eci_notifications.templates import Renderer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CONTACTS = 3
ITEMS = 2


class CountingMailer:
    """Counts every hand-over, slowly enough for the two replicas to overlap."""

    def __init__(self) -> None:
        self.sent: list[Email] = []

    async def send(self, email: Email) -> None:
        await asyncio.sleep(0.05)
        self.sent.append(email)


async def test_two_replicas_send_each_digest_once(mongo: MongoClient, run_id: str) -> None:
    db: Database = mongo[f"t_{run_id}_digests"]
    notifications = MongoNotificationRepository(db["notifications"])
    created = datetime.now(UTC) - timedelta(hours=1)
    for contact in range(CONTACTS):
        for item in range(ITEMS):
            await notifications.add(_digest_item(f"{run_id}-{contact}-{item}", contact, created))
    mailer = CountingMailer()
    locks = DocumentLocks()
    replicas = [
        Outlets(
            notifications=MongoNotificationRepository(db["notifications"], DocumentLocks()),
            subscriptions=None,  # type: ignore[arg-type]  # a digest never calls a webhook
            mailer=mailer,
            webhooks=None,  # type: ignore[arg-type]
            wake_outbox=lambda *ids: None,
            claims=Claims(db["delivery_claims"], lease_s=30),
        )
        for _ in range(2)
    ]
    arguments = {
        "digests": DigestLog(db["digests"]),
        "contacts": MongoContactBook(db["contacts"], db["preferences"], locks),
        "renderer": Renderer(),
        "now": datetime.now(UTC),
    }
    sent = await asyncio.gather(
        *(send_daily_digests(outlets=outlets, **arguments) for outlets in replicas),
        return_exceptions=True,
    )

    # The sends first: a race without claims also trips on the digest log's upsert.
    assert sorted(email.to for email in mailer.sent) == [f"c{n}@example.com" for n in range(3)]
    assert sum(n for n in sent if isinstance(n, int)) == CONTACTS, sent
    stored = await db["notifications"].find({}, {"status": 1, "outbox": 1}).to_list()
    assert {doc["status"] for doc in stored} == {Status.SENT.value}
    assert [len(doc["outbox"]) for doc in stored] == [1] * CONTACTS * ITEMS  # marked once each


def _digest_item(identifier: str, contact: int, created: datetime) -> Notification:
    return Notification(
        id=identifier,
        recipient=f"contact-{contact}",
        recipient_kind=RecipientKind.CONTACT,
        channel=Channel.EMAIL,
        kind="test",
        family="test",
        title=f"Item {identifier}",
        body="Un élément du jour",
        company_id=None,
        event_id=f"event-{identifier}",
        correlation_id=identifier,
        created_at=created,
        address=f"c{contact}@example.com",
        status=Status.PENDING,
        digest=True,
    )
