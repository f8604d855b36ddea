"""Registry use cases. Each takes its dependencies as keyword arguments."""

from collections.abc import Callable

from eci_common.envelope import Event, new_event
from eci_common.errors import NotFound
from eci_common.events.base import EventPayload
from eci_registry.domain import Company, ValueChainRole
from eci_registry.repository import CompanyRepository

SOURCE = "/eci/registry"


async def register_company(
    *,
    repository: CompanyRepository,
    notify_outbox: Callable[[], None],
    correlation_id: str | None,
    legal_name: str,
    siren: str | None,
    country: str,
    region: str | None,
    city: str | None,
    roles: list[ValueChainRole],
    capabilities: list[str],
) -> Company:
    """Registers a company; `CompanyRegistered` leaves through the outbox."""
    company = Company.register(
        legal_name=legal_name,
        siren=siren,
        country=country,
        region=region,
        city=city,
        roles=roles,
        capabilities=capabilities,
    )
    events: list[Event[EventPayload]] = [
        new_event(payload, source=SOURCE, correlation_id=correlation_id)
        for payload in company.pending
    ]
    await repository.add(company, events)
    company.pending.clear()
    notify_outbox()
    return company


async def get_company(*, repository: CompanyRepository, company_id: str) -> Company:
    company = await repository.get(company_id)
    if company is None:
        raise NotFound(f"no company {company_id}")
    return company
