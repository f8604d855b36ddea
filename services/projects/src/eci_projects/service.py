"""Projects use cases. Keyword-only; dependencies passed in; rules that need other services'
data read the read model built from their events, never call them."""

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from eci_common.clock import now
from eci_common.envelope import Event, new_event
from eci_common.errors import Conflict, NotFound, PreconditionRequired, StaleVersion
from eci_common.events.base import EventPayload
from eci_common.events.projects import Candidate, CandidatesRankedV1
from eci_common.logging import get_logger
from eci_projects.matchmaking import Ranked, rank
from eci_projects.project import Description, Project, Visibility
from eci_projects.read_model import CompanyDirectory, KnownCompany
from eci_projects.repository import ProjectRepository

SOURCE = "/eci/projects"
RETRIES = 30

log = get_logger(__name__)


@dataclass(frozen=True)
class Unit:
    projects: ProjectRepository
    directory: CompanyDirectory
    wake_outbox: Callable[..., None]  # rings the relay after a write, naming the ids
    correlation_id: str | None


def _stamp(project: Project, correlation_id: str | None) -> list[Event[EventPayload]]:
    events = [new_event(p, source=SOURCE, correlation_id=correlation_id) for p in project.pending]
    project.pending.clear()
    return events


async def _active_company(unit: Unit, company_id: str, role: str) -> KnownCompany:
    company = await unit.directory.get(company_id)
    if company is None:
        raise NotFound(f"no registered company {company_id} ({role})")
    if company.status != "active":
        raise Conflict(f"the {role} company {company_id} is {company.status}")
    return company


async def load(unit: Unit, project_id: str) -> Project:
    project = await unit.projects.get(project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    return project


async def _save(unit: Unit, project: Project, before: int) -> None:
    await unit.projects.save(project, _stamp(project, unit.correlation_id), expected_version=before)
    unit.wake_outbox(project.id)


async def propose(
    unit: Unit,
    *,
    cluster_id: str,
    lead_company_id: str,
    description: Description,
    milestones: list[tuple[str, date | None]],
) -> Project:
    await _active_company(unit, lead_company_id, "lead")
    if lead_company_id not in await unit.directory.members_of(cluster_id):
        raise Conflict(f"the lead company is not a member of cluster {cluster_id}")
    project = Project.propose(
        cluster_id=cluster_id,
        lead_company_id=lead_company_id,
        description=description,
        milestones=milestones,
    )
    await unit.projects.add(project, _stamp(project, unit.correlation_id))
    unit.wake_outbox(project.id)
    log.info("project_proposed", project_id=project.id, cluster_id=cluster_id)
    return project


async def change(
    unit: Unit,
    *,
    project_id: str,
    expected_version: int | None,
    action: Callable[[Project], Any],
) -> Project:
    """A change by the lead, guarded by the version the caller saw (`If-Match`)."""
    project = await load(unit, project_id)
    if expected_version is None:
        raise PreconditionRequired(f"changing project {project_id} needs If-Match with its ETag")
    if expected_version != project.version:
        raise StaleVersion(f"project {project_id} is at version {project.version}")
    before = project.version
    action(project)
    if project.version != before:
        await _save(unit, project, before)
    return project


async def merge(unit: Unit, *, project_id: str, action: Callable[[Project], Any]) -> Any:
    """A change that needs no version from the caller (an application, an answer): retried
    here on a concurrent write, since it merges into whatever the project is now."""
    for attempt in range(RETRIES):
        project = await load(unit, project_id)
        before = project.version
        result = action(project)
        try:
            await _save(unit, project, before)
        except StaleVersion:
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311 - jitter
            continue
        return project, result
    raise StaleVersion(f"project {project_id} kept changing; try again")


async def candidates(unit: Unit, project: Project) -> list[Ranked]:
    needed = (
        project.call.needed_capabilities
        if project.call
        else project.description.needed_capabilities
    )
    lead = await unit.directory.get(project.lead_company_id)
    if lead is None or not needed:
        return []
    excluded = set(project.partners)
    excluded |= {a.company_id for a in project.applications if a.decision.value == "pending"}
    members = await unit.directory.members_of(project.cluster_id)
    companies = await unit.directory.all(limit=10_000)
    if project.description.visibility is Visibility.CLUSTER:
        companies = [company for company in companies if company.id in members]
    return rank(
        needed=tuple(needed),
        companies=companies,
        cluster_members=members,
        lead=lead,
        excluded=excluded,
    )


async def open_call(
    unit: Unit,
    *,
    project_id: str,
    expected_version: int | None,
    needed: tuple[str, ...],
    deadline: date,
) -> Project:
    """Opens the call and publishes the ranked candidates with it (same write), so that
    notifications can reach the best matches without calling us."""
    project = await load(unit, project_id)
    ranked_before = await candidates(unit, _with_needs(project, needed))

    def act(p: Project) -> None:
        p.open_call(needed=needed, deadline=deadline)
        p.pending.append(_ranking(p, ranked_before))

    return await change(unit, project_id=project_id, expected_version=expected_version, action=act)


def _with_needs(project: Project, needed: tuple[str, ...]) -> Project:
    copy = Project(**{**project.__dict__, "pending": []})
    copy.description = Description(
        **{**project.description.__dict__, "needed_capabilities": needed}
    )
    copy.call = None
    return copy


def _ranking(project: Project, ranked: list[Ranked]) -> CandidatesRankedV1:
    return CandidatesRankedV1(
        project_id=project.id,
        version=project.version,
        cluster_id=project.cluster_id,
        needed_capabilities=list(project.call.needed_capabilities if project.call else ()),
        candidates=[
            Candidate(
                company_id=r.company.id,
                rank=index,
                covered_capabilities=list(r.covered),
                same_cluster=r.same_cluster,
                same_region=r.same_region,
                reasons=list(r.reasons),
            )
            for index, r in enumerate(ranked, start=1)
        ],
        ranked_at=now(),
    )


async def _members(unit: Unit, project_id: str) -> set[str]:
    """The current members of the project's grappe (a project never changes grappe), which the
    domain needs to enforce `visibility: cluster` on every application, invitation and answer."""
    project = await load(unit, project_id)
    return await unit.directory.members_of(project.cluster_id)


async def apply(
    unit: Unit, *, project_id: str, company_id: str, message: str
) -> tuple[Project, str]:
    await _active_company(unit, company_id, "applicant")
    members = await _members(unit, project_id)
    project, application = await merge(
        unit,
        project_id=project_id,
        action=lambda p: p.apply(company_id, message, members=members),
    )
    return project, application.id


async def decide(unit: Unit, *, project_id: str, application_id: str, accept: bool) -> Project:
    project = await load(unit, project_id)
    application = next((a for a in project.applications if a.id == application_id), None)
    if application is not None and accept:
        await _active_company(unit, application.company_id, "applicant")
    members = await unit.directory.members_of(project.cluster_id)
    result, _ = await merge(
        unit,
        project_id=project_id,
        action=lambda p: p.decide_application(application_id, accept=accept, members=members),
    )
    updated: Project = result
    return updated


async def invite(
    unit: Unit, *, project_id: str, company_id: str, message: str
) -> tuple[Project, str]:
    await _active_company(unit, company_id, "invited")
    members = await _members(unit, project_id)
    project, invitation = await merge(
        unit,
        project_id=project_id,
        action=lambda p: p.invite(company_id, message, members=members),
    )
    return project, invitation.id


async def answer(unit: Unit, *, project_id: str, invitation_id: str, accept: bool) -> Project:
    members = await _members(unit, project_id)
    project, _ = await merge(
        unit,
        project_id=project_id,
        action=lambda p: p.answer_invitation(invitation_id, accept=accept, members=members),
    )
    updated: Project = project
    return updated
