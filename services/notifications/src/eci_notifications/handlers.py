"""Kafka subscribers of notifications: validate (done by the consumer), call the service."""

from eci_common.consumer import EventConsumer
from eci_common.envelope import Event
from eci_common.events.registry import CompanyErasedV1, CompanyRegisteredV1
from eci_common.logging import get_logger
from eci_notifications import service
from eci_notifications.repository import NotificationRepository

log = get_logger(__name__)


def register_handlers(consumer: EventConsumer, repository: NotificationRepository) -> None:
    """Attaches the handlers of every event that causes a notification."""

    @consumer.on(CompanyRegisteredV1)
    async def company_registered(event: Event[CompanyRegisteredV1]) -> None:
        stored = await service.notify_company_registered(repository=repository, event=event)
        log.info("staff_notified", company_id=event.data.company_id, stored=stored)

    @consumer.on(CompanyErasedV1)
    async def company_erased(event: Event[CompanyErasedV1]) -> None:
        purged = await repository.purge_company(event.data.company_id)
        log.info("company_purged", company_id=event.data.company_id, notifications=purged)
