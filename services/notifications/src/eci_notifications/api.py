"""Notifications REST API: the in-app inboxes (staff, company, contact) and delivery states."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from eci_common.auth import PrincipalDep
from eci_common.errors import NotFound
from eci_notifications.access import may_read_inbox, require_inbox
from eci_notifications.api_contacts import ContactsDep
from eci_notifications.domain import STAFF, Channel, Notification, RecipientKind, Status
from eci_notifications.repository import NotificationRepository


def _repository(request: Request) -> NotificationRepository:
    repository: NotificationRepository = request.app.state.notifications
    return repository


RepositoryDep = Annotated[NotificationRepository, Depends(_repository)]


class NotificationPublic(BaseModel):
    """A notification as the inbox shows it."""

    id: str
    recipient: str
    channel: Channel
    kind: str
    title: str
    body: str
    company_id: str | None
    correlation_id: str
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, notification: Notification) -> "NotificationPublic":
        return cls(
            id=notification.id,
            recipient=notification.recipient,
            channel=notification.channel,
            kind=notification.kind,
            title=notification.title,
            body=notification.body,
            company_id=notification.company_id,
            correlation_id=notification.correlation_id,
            created_at=notification.created_at,
            read=notification.read,
        )


class DeliveryPublic(BaseModel):
    """One notification on one channel and where its delivery stands. No address: the e-mail
    address is personal data, the recipient (a contact id) is enough to follow it."""

    id: str
    recipient: str
    recipient_kind: RecipientKind
    recipient_company_id: str | None
    channel: Channel
    kind: str
    family: str
    status: Status
    reason: str | None
    digest: bool
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    event_type: str
    event_id: str
    created_at: datetime

    @classmethod
    def of(cls, n: Notification) -> "DeliveryPublic":
        return cls(
            id=n.id,
            recipient=n.recipient,
            recipient_kind=n.recipient_kind,
            recipient_company_id=n.recipient_company_id,
            channel=n.channel,
            kind=n.kind,
            family=n.family,
            status=n.status,
            reason=n.reason,
            digest=n.digest,
            attempts=n.attempts,
            next_attempt_at=n.next_attempt_at,
            sent_at=n.sent_at,
            event_type=n.event_type,
            event_id=n.event_id,
            created_at=n.created_at,
        )


class UnreadCount(BaseModel):
    """How many inbox notifications a recipient has not read."""

    recipient: str
    unread: int


router = APIRouter(tags=["inbox"])
Recipient = Annotated[str, Query(min_length=1, max_length=100)]


@router.get("/notifications")
async def list_notifications(
    *,
    repository: RepositoryDep,
    contacts: ContactsDep,
    caller: PrincipalDep,
    recipient: Recipient = STAFF,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NotificationPublic]:
    """The inbox of `recipient` (`staff`, a company id or a contact id), newest first. Staff
    read every inbox; a company's people read the company's and its contacts' inboxes."""
    await require_inbox(caller, recipient, contacts)
    notifications = await repository.list_for(recipient, limit=limit, unread_only=unread)
    return [NotificationPublic.of(notification) for notification in notifications]


@router.get("/notifications/unread-count")
async def unread_count(
    repository: RepositoryDep,
    contacts: ContactsDep,
    caller: PrincipalDep,
    recipient: Recipient = STAFF,
) -> UnreadCount:
    await require_inbox(caller, recipient, contacts)
    return UnreadCount(recipient=recipient, unread=await repository.unread_count(recipient))


@router.post("/notifications/{notification_id}/read")
async def mark_read(
    notification_id: str, repository: RepositoryDep, contacts: ContactsDep, caller: PrincipalDep
) -> NotificationPublic:
    """Idempotent; 404 for an unknown id, one that is not an inbox notification, or one in an
    inbox the caller may not read."""
    found = await repository.get(notification_id)
    if (
        found is None
        or found.channel is not Channel.INBOX
        or not await may_read_inbox(caller, found.recipient, contacts)
    ):
        raise NotFound(f"no inbox notification {notification_id}")
    marked = await repository.mark_read(notification_id)
    assert marked is not None  # noqa: S101 - it was there a moment ago
    return NotificationPublic.of(marked)


@router.get("/deliveries")
async def list_deliveries(
    *,
    repository: RepositoryDep,
    caller: PrincipalDep,
    status: Status | None = None,
    channel: Channel | None = None,
    recipient: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryPublic]:
    """Delivery states, newest first: pending, sent, failed or suppressed, with the reason.
    Staff only."""
    caller.require_staff("follow deliveries")
    found = await repository.deliveries(
        status=status, channel=channel, recipient=recipient, limit=limit
    )
    return [DeliveryPublic.of(notification) for notification in found]


@router.get("/deliveries/{notification_id}")
async def get_delivery(
    notification_id: str, repository: RepositoryDep, caller: PrincipalDep
) -> DeliveryPublic:
    caller.require_staff("follow deliveries")
    found = await repository.get(notification_id)
    if found is None:
        raise NotFound(f"no notification {notification_id}")
    return DeliveryPublic.of(found)
