"""Notifications REST API: the in-app inbox."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from eci_notifications.domain import STAFF, Channel, Notification
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


router = APIRouter(prefix="/notifications", tags=["inbox"])


@router.get("")
async def list_notifications(
    repository: RepositoryDep,
    recipient: Annotated[str, Query(min_length=1, max_length=100)] = STAFF,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NotificationPublic]:
    """Newest first."""
    notifications = await repository.list_for(recipient, limit=limit)
    return [NotificationPublic.of(notification) for notification in notifications]
