"""Projects REST API: projects, their call for partners, applications, invitations, milestones
and lifecycle. Domain errors become statuses in `eci_common.http`."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from eci_common.auth import Principal, PrincipalDep
from eci_common.errors import Conflict, NotFound
from eci_common.http import IfMatchDep, current_correlation_id, set_etag
from eci_projects import service
from eci_projects.access import managed_project, viewer, visible_project
from eci_projects.api_models import (
    ApplicationIn,
    CallIn,
    CandidateOut,
    InvitationIn,
    MilestoneIn,
    ProjectCreate,
    ProjectPublic,
    ProjectUpdate,
    StatusIn,
)
from eci_projects.lifecycle import Status, check_transition
from eci_projects.project import Project
from eci_projects.service import Unit

router = APIRouter(prefix="/projects", tags=["projects"])


def _unit(request: Request) -> Unit:
    state = request.app.state
    return Unit(
        projects=state.projects,
        directory=state.directory,
        wake_outbox=state.relay.wake,
        correlation_id=current_correlation_id(),
    )


UnitDep = Annotated[Unit, Depends(_unit)]
Decision = Literal["accept", "decline"]


def _out(project: Project, response: Response, caller: Principal) -> ProjectPublic:
    set_etag(response, project.version)
    return ProjectPublic.of(project, caller)


@router.post("", status_code=status.HTTP_201_CREATED)
async def propose(
    body: ProjectCreate, unit: UnitDep, response: Response, caller: PrincipalDep
) -> ProjectPublic:
    """A company proposes a project in a cluster it belongs to; it starts as a draft. Staff,
    or the lead company's own people."""
    caller.require_acts_for(body.lead_company_id, "propose a project in its name")
    project = await service.propose(
        unit,
        cluster_id=body.cluster_id,
        lead_company_id=body.lead_company_id,
        description=body.description(),
        milestones=[(m.title, m.due_on) for m in body.milestones],
    )
    response.headers["Location"] = f"/projects/{project.id}"
    return _out(project, response, caller)


@router.get("")
async def find(
    unit: UnitDep,
    caller: PrincipalDep,
    cluster_id: Annotated[str | None, Query(max_length=100)] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    company_id: Annotated[str | None, Query(max_length=100)] = None,
) -> list[ProjectPublic]:
    """The projects the caller may see, filtered."""
    projects = await unit.projects.find(
        cluster_id=cluster_id, status=status_, company_id=company_id
    )
    seen_by = await viewer(unit, caller)
    return [ProjectPublic.of(p, caller) for p in projects if seen_by.can_see(p)]


@router.get("/{project_id}")
async def get(
    project_id: str, unit: UnitDep, response: Response, caller: PrincipalDep
) -> ProjectPublic:
    return _out(await visible_project(unit, caller, project_id), response, caller)


@router.patch("/{project_id}")
async def update(
    *,
    project_id: str,
    body: ProjectUpdate,
    unit: UnitDep,
    version: IfMatchDep,
    response: Response,
    caller: PrincipalDep,
) -> ProjectPublic:
    await managed_project(unit, caller, project_id)
    changes = body.changes()
    project = await service.change(
        unit, project_id=project_id, expected_version=version, action=lambda p: p.update(changes)
    )
    return _out(project, response, caller)


@router.post("/{project_id}/call")
async def open_call(
    *,
    project_id: str,
    body: CallIn,
    unit: UnitDep,
    version: IfMatchDep,
    response: Response,
    caller: PrincipalDep,
) -> ProjectPublic:
    """Draft → open for partners; the ranked candidates are published with the call."""
    await managed_project(unit, caller, project_id)
    project = await service.open_call(
        unit,
        project_id=project_id,
        expected_version=version,
        needed=tuple(body.needed_capabilities),
        deadline=body.deadline,
    )
    return _out(project, response, caller)


@router.post("/{project_id}/call/close")
async def close_call(
    project_id: str, unit: UnitDep, version: IfMatchDep, response: Response, caller: PrincipalDep
) -> ProjectPublic:
    await managed_project(unit, caller, project_id)
    project = await service.change(
        unit, project_id=project_id, expected_version=version, action=lambda p: p.close_call()
    )
    return _out(project, response, caller)


@router.post("/{project_id}/status")
async def change_status(
    *,
    project_id: str,
    body: StatusIn,
    unit: UnitDep,
    version: IfMatchDep,
    response: Response,
    caller: PrincipalDep,
) -> ProjectPublic:
    """Moves the project in its lifecycle; 409 names the allowed statuses."""
    await managed_project(unit, caller, project_id)

    def act(project: Project) -> None:
        check_transition(project.status, body.status)
        if body.status is Status.OPEN_FOR_PARTNERS:
            raise Conflict("a project opens for partners with a call: POST /projects/{id}/call")
        {
            Status.ACTIVE: project.activate,
            Status.COMPLETED: project.complete,
            Status.CANCELLED: project.cancel,
        }[body.status]()

    project = await service.change(
        unit, project_id=project_id, expected_version=version, action=act
    )
    return _out(project, response, caller)


@router.get("/{project_id}/candidates")
async def candidates(project_id: str, unit: UnitDep, caller: PrincipalDep) -> list[CandidateOut]:
    """Candidate partners, best first, each with the reasons for its rank (for the lead)."""
    project = await managed_project(unit, caller, project_id)
    ranked = await service.candidates(unit, project)
    return [CandidateOut.of(index, r) for index, r in enumerate(ranked, start=1)]


@router.post("/{project_id}/applications", status_code=status.HTTP_201_CREATED)
async def apply(
    project_id: str, body: ApplicationIn, unit: UnitDep, response: Response, caller: PrincipalDep
) -> dict[str, str]:
    """A company applies in its own name to a project it can see."""
    await visible_project(unit, caller, project_id)
    caller.require_acts_for(body.company_id, "apply in this company's name")
    project, application_id = await service.apply(
        unit, project_id=project_id, company_id=body.company_id, message=body.message
    )
    response.headers["ETag"] = f'"{project.version}"'
    return {"application_id": application_id}


@router.post("/{project_id}/applications/{application_id}/{decision}")
async def decide(
    *,
    project_id: str,
    application_id: str,
    decision: Decision,
    unit: UnitDep,
    response: Response,
    caller: PrincipalDep,
) -> ProjectPublic:
    """The lead accepts or declines an application."""
    await managed_project(unit, caller, project_id)
    project = await service.decide(
        unit, project_id=project_id, application_id=application_id, accept=decision == "accept"
    )
    return _out(project, response, caller)


@router.post("/{project_id}/invitations", status_code=status.HTTP_201_CREATED)
async def invite(
    project_id: str, body: InvitationIn, unit: UnitDep, response: Response, caller: PrincipalDep
) -> dict[str, str]:
    """The lead invites a company."""
    await managed_project(unit, caller, project_id)
    project, invitation_id = await service.invite(
        unit, project_id=project_id, company_id=body.company_id, message=body.message
    )
    response.headers["ETag"] = f'"{project.version}"'
    return {"invitation_id": invitation_id}


@router.post("/{project_id}/invitations/{invitation_id}/{decision}")
async def answer(
    *,
    project_id: str,
    invitation_id: str,
    decision: Decision,
    unit: UnitDep,
    response: Response,
    caller: PrincipalDep,
) -> ProjectPublic:
    """The invited company answers its invitation."""
    project = await visible_project(unit, caller, project_id)
    invitation = next((i for i in project.invitations if i.id == invitation_id), None)
    if invitation is None:
        raise NotFound(f"no invitation {invitation_id} in project {project_id}")
    caller.require_acts_for(invitation.company_id, "answer this invitation")
    project = await service.answer(
        unit, project_id=project_id, invitation_id=invitation_id, accept=decision == "accept"
    )
    return _out(project, response, caller)


@router.post("/{project_id}/milestones", status_code=status.HTTP_201_CREATED)
async def add_milestone(
    *,
    project_id: str,
    body: MilestoneIn,
    unit: UnitDep,
    version: IfMatchDep,
    response: Response,
    caller: PrincipalDep,
) -> ProjectPublic:
    await managed_project(unit, caller, project_id)
    project = await service.change(
        unit,
        project_id=project_id,
        expected_version=version,
        action=lambda p: p.add_milestone(body.title, body.due_on),
    )
    return _out(project, response, caller)


@router.post("/{project_id}/milestones/{milestone_id}/reached")
async def reach_milestone(
    *,
    project_id: str,
    milestone_id: str,
    unit: UnitDep,
    version: IfMatchDep,
    response: Response,
    caller: PrincipalDep,
) -> ProjectPublic:
    """Announces the milestone to the partners (MilestoneReached)."""
    await managed_project(unit, caller, project_id)
    project = await service.change(
        unit,
        project_id=project_id,
        expected_version=version,
        action=lambda p: p.reach_milestone(milestone_id),
    )
    return _out(project, response, caller)
