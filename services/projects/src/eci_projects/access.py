"""Who may see and manage a project. A project the caller may not see answers exactly as one
that does not exist (404), so that nothing leaks about other companies' private projects."""

from dataclasses import dataclass

from eci_common.auth import Principal
from eci_common.errors import NotFound
from eci_projects.lifecycle import Status
from eci_projects.project import Project, Visibility
from eci_projects.service import Unit


@dataclass(frozen=True)
class Viewer:
    """A caller and the clusters its company belongs to, as the read model knows them."""

    caller: Principal
    member_of: frozenset[str]

    def can_see(self, project: Project) -> bool:
        """Staff and the cluster's animators see every project of it; the companies involved
        (lead, partners, applicants, invitees) see theirs; others see a project once it is out
        of draft, if it is open to all members or they belong to its cluster."""
        caller = self.caller
        if caller.animates(project.cluster_id):
            return True
        if caller.company_id is not None and caller.company_id in _involved(project):
            return True
        if project.status is Status.DRAFT:
            return False
        if project.description.visibility is Visibility.ALL_MEMBERS:
            return True
        return project.cluster_id in self.member_of


def _involved(project: Project) -> set[str]:
    return {
        project.lead_company_id,
        *project.partners,
        *(application.company_id for application in project.applications),
        *(invitation.company_id for invitation in project.invitations),
    }


async def viewer(unit: Unit, caller: Principal) -> Viewer:
    if caller.company_id is None or caller.is_staff:
        return Viewer(caller, frozenset())
    return Viewer(caller, frozenset(await unit.directory.clusters_of(caller.company_id)))


async def visible_project(unit: Unit, caller: Principal, project_id: str) -> Project:
    """The project if the caller may see it; otherwise the same 404 as for no project."""
    project = await unit.projects.get(project_id)
    if project is None or not (await viewer(unit, caller)).can_see(project):
        raise NotFound(f"no project {project_id}")
    return project


async def managed_project(unit: Unit, caller: Principal, project_id: str) -> Project:
    """The project if the caller may manage it: staff or the lead company's people (403 for a
    caller who sees it but does not lead it)."""
    project = await visible_project(unit, caller, project_id)
    caller.require_acts_for(project.lead_company_id, "manage this project (its lead only)")
    return project
