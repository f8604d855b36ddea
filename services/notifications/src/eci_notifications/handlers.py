"""Kafka subscribers of notifications: validate (done by the consumer), keep the read models,
call the use cases. Nothing else."""

from typing import Any

from eci_common import topics
from eci_common.consumer import EventConsumer
from eci_common.envelope import Event
from eci_common.events import catalog
from eci_common.events.projects import (
    CallForPartnersOpenedV1,
    ProjectProposedV1,
    ProjectUpdatedV1,
)
from eci_common.events.registry import (
    ClusterCreatedV1,
    ClusterUpdatedV1,
    CompanyContactsChangedV1,
    CompanyErasedV1,
    CompanyRegisteredV1,
    CompanyUpdatedV1,
    MemberJoinedV1,
    MemberLeftV1,
)
from eci_common.logging import get_logger
from eci_notifications import service
from eci_notifications.contacts import new_contact
from eci_notifications.digest import DigestLog
from eci_notifications.service import Notifier

log = get_logger(__name__)

# The topics notifications reads. Contacts come from the registry's internal topic.
TOPICS = (
    topics.REGISTRY_COMPANIES,
    topics.REGISTRY_CLUSTERS,
    topics.PROJECTS_PROJECTS,
    topics.REGISTRY_CONTACTS,
)
# Integrators' webhooks may subscribe to these: the public events notifications reads.
WEBHOOK_EVENT_TYPES = tuple(
    model.event_type
    for model in catalog.EVENT_MODELS
    if model.topic in TOPICS and model.topic in topics.PUBLIC_TOPICS
)


async def _update_read_models(notifier: Notifier, event: Event[Any]) -> None:
    """Only what the rules and the templates need."""
    data, directory = event.data, notifier.directory
    match data:
        case CompanyRegisteredV1() | CompanyUpdatedV1():
            await directory.apply_company(
                data.company_id, data.version, {"legal_name": data.legal_name}
            )
        case ClusterCreatedV1() | ClusterUpdatedV1():
            await directory.apply_cluster(data.cluster_id, data.version, {"name": data.name})
        case MemberJoinedV1():
            await directory.apply_membership(
                data.cluster_id, data.company_id, data.version, data.role
            )
        case MemberLeftV1():
            await directory.apply_membership(data.cluster_id, data.company_id, data.version, None)
        case ProjectProposedV1() | ProjectUpdatedV1() | CallForPartnersOpenedV1():
            await directory.apply_project(
                data.project_id,
                data.version,
                title=data.title,
                lead_company_id=data.lead_company_id,
                cluster_id=data.cluster_id,
            )
        case _:
            pass


def register_handlers(consumer: EventConsumer, notifier: Notifier, digests: DigestLog) -> None:
    """Attaches a handler to every event type notifications reads."""

    async def on_event(event: Event[Any]) -> None:
        await _update_read_models(notifier, event)
        await service.handle_event(notifier=notifier, event=event)

    for model in catalog.EVENT_MODELS:
        if model.topic in TOPICS and model not in (CompanyErasedV1, CompanyContactsChangedV1):
            consumer.on(model)(on_event)

    @consumer.on(CompanyContactsChangedV1)
    async def contacts_changed(event: Event[CompanyContactsChangedV1]) -> None:
        data = event.data
        contacts = [
            new_contact(
                data.company_id,
                name=c.name,
                email=c.email,
                language=c.language,
                consent=c.consent,
                role=c.role,
            )
            for c in data.contacts
        ]
        applied = await notifier.contacts.replace(data.company_id, data.version, contacts)
        log.info("contacts_known", company_id=data.company_id, count=len(contacts), applied=applied)

    @consumer.on(CompanyErasedV1)
    async def company_erased(event: Event[CompanyErasedV1]) -> None:
        data = event.data
        purged = await service.purge_company(
            notifications=notifier.notifications,
            contacts=notifier.contacts,
            directory=notifier.directory,
            company_id=data.company_id,
            version=data.version,
        )
        purged += await digests.purge_company(data.company_id)
        await service.call_webhooks(notifier=notifier, event=event)
        log.info("company_purged", company_id=data.company_id, notifications=purged)
