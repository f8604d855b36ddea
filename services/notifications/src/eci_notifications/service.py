"""Notification use cases, one per kind of event that someone must hear about."""

from eci_common.envelope import Event
from eci_common.events.registry import CompanyRegisteredV1
from eci_notifications.domain import STAFF, Channel, Notification, notification_id
from eci_notifications.repository import NotificationRepository


async def notify_company_registered(
    *, repository: NotificationRepository, event: Event[CompanyRegisteredV1]
) -> bool:
    """The association's staff learn, in their inbox, that a company registered."""
    data = event.data
    where = ", ".join(part for part in (data.city, data.region, data.country) if part)
    notification = Notification(
        id=notification_id(
            event_source=event.meta.source,
            event_id=event.meta.id,
            recipient=STAFF,
            channel=Channel.INBOX,
        ),
        recipient=STAFF,
        channel=Channel.INBOX,
        kind="company_registered",
        title=f"Nouvelle entreprise inscrite : {data.legal_name}",
        body=f"{data.legal_name} ({where}) a rejoint l'Espace Collaboratif d'Innovation.",
        company_id=data.company_id,
        event_id=event.meta.id,
        correlation_id=event.meta.correlationid,
        created_at=event.meta.time,
    )
    return await repository.add(notification)
