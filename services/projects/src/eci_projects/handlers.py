"""Kafka subscribers of projects: validate (done by the consumer), call the read model."""

from eci_common.consumer import EventConsumer
from eci_common.envelope import Event
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.logging import get_logger
from eci_projects.read_model import CompanyDirectory, KnownCompany

log = get_logger(__name__)


def register_handlers(consumer: EventConsumer, directory: CompanyDirectory) -> None:
    """Attaches the registry-event handlers to the service's consumer."""

    @consumer.on(CompanyRegisteredV1)
    async def company_registered(event: Event[CompanyRegisteredV1]) -> None:
        data = event.data
        applied = await directory.upsert(
            KnownCompany(
                id=data.company_id,
                legal_name=data.legal_name,
                country=data.country,
                region=data.region,
                roles=data.roles,
                capabilities=data.capabilities,
                active=True,
                version=data.version,
                registered_at=data.registered_at,
            )
        )
        log.info("company_known", company_id=data.company_id, applied=applied)
