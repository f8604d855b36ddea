"""Registry use cases for companies. Keyword-only; dependencies passed in; safe to retry."""

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from eci_common.envelope import Event, new_event
from eci_common.errors import NotFound, PreconditionRequired, StaleVersion
from eci_common.events.base import EventPayload
from eci_common.logging import get_logger
from eci_registry.cluster_repository import ClusterRepository
from eci_registry.companies import Company, Profile
from eci_registry.repository import CompanyFilter, CompanyRepository, Page

SOURCE = "/eci/registry"
# Merging changes (joins, leaves, erasures) retry on a concurrent write instead of failing;
# the jitter spreads writers that collided.
RETRIES_ON_CONCURRENT_CHANGE = 30


async def backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311 - jitter only


log = get_logger(__name__)


@dataclass(frozen=True)
class Unit:
    """What every use case needs: the stores, the relay's doorbell, the causal context."""

    companies: CompanyRepository
    clusters: ClusterRepository
    wake_outbox: Any  # Callable[..., None]: rings the relay after a write, naming the ids
    correlation_id: str | None


def stamp(pending: list[EventPayload], correlation_id: str | None) -> list[Event[EventPayload]]:
    """Wraps an aggregate's pending payloads into CloudEvents of this source."""
    events = [
        new_event(payload, source=SOURCE, correlation_id=correlation_id) for payload in pending
    ]
    pending.clear()
    return events


def require_version(expected_version: int | None, current: int, what: str) -> None:
    if expected_version is None:
        raise PreconditionRequired(f"changing {what} needs If-Match with its ETag")
    if expected_version != current:
        raise StaleVersion(f"{what} is at version {current}, not {expected_version}")


async def load_company(unit: Unit, company_id: str) -> Company:
    company = await unit.companies.get(company_id)
    if company is None:
        raise NotFound(f"no company {company_id}")
    return company


async def register_company(unit: Unit, *, profile: Profile) -> Company:
    company = Company.register(profile)
    await unit.companies.add(company, stamp(company.pending, unit.correlation_id))
    unit.wake_outbox(company.id)
    log.info("company_registered", company_id=company.id)
    return company


async def update_company(
    unit: Unit, *, company_id: str, expected_version: int | None, changes: dict[str, Any]
) -> Company:
    company = await load_company(unit, company_id)
    company.live_profile()
    require_version(expected_version, company.version, f"company {company_id}")
    before = company.version
    changed = company.update(changes)
    if changed:
        events = stamp(company.pending, unit.correlation_id)
        await unit.companies.save(company, events, expected_version=before)
        unit.wake_outbox(company_id)
        log.info("company_updated", company_id=company_id, changed=changed)
    return company


async def deactivate_company(
    unit: Unit, *, company_id: str, expected_version: int | None, reason: str | None
) -> Company:
    company = await load_company(unit, company_id)
    company.live_profile()
    require_version(expected_version, company.version, f"company {company_id}")
    before = company.version
    company.deactivate(reason)
    await unit.companies.save(
        company, stamp(company.pending, unit.correlation_id), expected_version=before
    )
    unit.wake_outbox(company_id)
    return company


async def reactivate_company(
    unit: Unit, *, company_id: str, expected_version: int | None
) -> Company:
    company = await load_company(unit, company_id)
    company.live_profile()
    require_version(expected_version, company.version, f"company {company_id}")
    before = company.version
    company.reactivate()
    await unit.companies.save(
        company, stamp(company.pending, unit.correlation_id), expected_version=before
    )
    unit.wake_outbox(company_id)
    return company


async def erase_company(unit: Unit, *, company_id: str) -> Company:
    """GDPR erasure. Idempotent: a repeated request finishes what an interrupted one began."""
    for attempt in range(RETRIES_ON_CONCURRENT_CHANGE):
        company = await load_company(unit, company_id)
        before = company.version
        if not company.erase():
            break
        try:
            await unit.companies.save(
                company, stamp(company.pending, unit.correlation_id), expected_version=before
            )
            break
        except StaleVersion:
            await backoff(attempt)
    else:
        raise StaleVersion(f"company {company_id} kept changing; try the erasure again")
    clusters = [cluster.id for cluster in await unit.clusters.of_company(company_id)]
    for cluster_id in clusters:
        await _leave_with_retry(unit, cluster_id, company_id)
    unit.wake_outbox(company_id, *clusters)
    log.info("company_erased", company_id=company_id)
    return company


async def _leave_with_retry(unit: Unit, cluster_id: str, company_id: str) -> None:
    for attempt in range(RETRIES_ON_CONCURRENT_CHANGE):
        cluster = await unit.clusters.get(cluster_id)
        if cluster is None or cluster.member(company_id) is None:
            return
        before = cluster.version
        cluster.leave(company_id, reason="erased")
        try:
            await unit.clusters.save(
                cluster, stamp(cluster.pending, unit.correlation_id), expected_version=before
            )
        except StaleVersion:
            await backoff(attempt)
            continue
        return
    raise StaleVersion(f"cluster {cluster_id} kept changing; try the erasure again")


async def search_companies(
    unit: Unit,
    *,
    criteria: CompanyFilter,
    cluster_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    if cluster_id is not None:
        cluster = await unit.clusters.get(cluster_id)
        if cluster is None:
            raise NotFound(f"no cluster {cluster_id}")
        ids = tuple(member.company_id for member in cluster.members)
        criteria = CompanyFilter(**{**criteria.__dict__, "company_ids": ids})
    return await unit.companies.search(criteria, limit=limit, cursor=cursor)
