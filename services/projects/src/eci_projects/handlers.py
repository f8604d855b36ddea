"""Kafka subscribers of projects: registry events into the read model, nothing else."""

from eci_common.consumer import EventConsumer
from eci_common.envelope import Event
from eci_common.events.registry import (
    CompanyDeactivatedV1,
    CompanyErasedV1,
    CompanyReactivatedV1,
    CompanyRegisteredV1,
    CompanyUpdatedV1,
    MemberJoinedV1,
    MemberLeftV1,
)
from eci_common.logging import get_logger
from eci_projects.read_model import CompanyDirectory
from eci_projects.repository import ProjectRepository

log = get_logger(__name__)

# What projects consumes, for its AsyncAPI document.
HANDLED_EVENTS = (
    CompanyRegisteredV1,
    CompanyUpdatedV1,
    CompanyDeactivatedV1,
    CompanyReactivatedV1,
    CompanyErasedV1,
    MemberJoinedV1,
    MemberLeftV1,
)

# Everything projects keeps of a company; an erasure removes all of it but the status.
PROFILE_FIELDS = ("legal_name", "country", "region", "roles", "capabilities", "registered_at")


def register_handlers(
    consumer: EventConsumer,
    directory: CompanyDirectory,
    projects: ProjectRepository | None = None,
) -> None:
    """Attaches the registry-event handlers to the service's consumer. Without `projects`
    (a read-model rebuild) an erasure touches the read model only."""

    @consumer.on(CompanyRegisteredV1)
    async def registered(event: Event[CompanyRegisteredV1]) -> None:
        data = event.data
        fields = {name: getattr(data, name) for name in PROFILE_FIELDS}
        applied = await directory.apply(
            data.company_id, data.version, {**fields, "status": "active"}
        )
        log.info("company_known", company_id=data.company_id, applied=applied)

    @consumer.on(CompanyUpdatedV1)
    async def updated(event: Event[CompanyUpdatedV1]) -> None:
        data = event.data
        fields = {name: getattr(data, name) for name in PROFILE_FIELDS if name != "registered_at"}
        await directory.apply(data.company_id, data.version, fields)

    @consumer.on(CompanyDeactivatedV1)
    async def deactivated(event: Event[CompanyDeactivatedV1]) -> None:
        await directory.apply(event.data.company_id, event.data.version, {"status": "deactivated"})

    @consumer.on(CompanyReactivatedV1)
    async def reactivated(event: Event[CompanyReactivatedV1]) -> None:
        await directory.apply(event.data.company_id, event.data.version, {"status": "active"})

    @consumer.on(CompanyErasedV1)
    async def erased(event: Event[CompanyErasedV1]) -> None:
        data = event.data
        purge = dict.fromkeys(PROFILE_FIELDS)
        await directory.apply(data.company_id, data.version, {**purge, "status": "erased"})
        forgotten = 0
        if projects is not None:
            for project in await projects.involving(data.company_id):
                if project.forget(data.company_id):
                    # Same version: no event is due, and a concurrent change simply wins the
                    # guard; the redelivery after a StaleVersion retry finishes the purge.
                    await projects.save(project, [], expected_version=project.version)
                    forgotten += 1
        log.info("company_purged", company_id=data.company_id, projects=forgotten)

    @consumer.on(MemberJoinedV1)
    async def joined(event: Event[MemberJoinedV1]) -> None:
        data = event.data
        await directory.apply_membership(data.cluster_id, data.company_id, data.version, data.role)

    @consumer.on(MemberLeftV1)
    async def left(event: Event[MemberLeftV1]) -> None:
        data = event.data
        await directory.apply_membership(data.cluster_id, data.company_id, data.version, None)
