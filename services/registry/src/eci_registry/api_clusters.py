"""Registry REST API: clusters (grappes) and their members."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from eci_common.auth import PrincipalDep
from eci_common.http import IfMatchDep, set_etag
from eci_registry import cluster_service
from eci_registry.api_models import (
    ClusterCreate,
    ClusterPublic,
    ClusterUpdate,
    MemberIn,
    MemberPublic,
)
from eci_registry.api_support import UnitDep
from eci_registry.clusters import Cluster, ClusterStatus
from eci_registry.repository import CompanyFilter

router = APIRouter(prefix="/clusters", tags=["clusters"])


def _public(cluster: Cluster, response: Response) -> ClusterPublic:
    set_etag(response, cluster.version)
    return ClusterPublic.of(cluster)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_cluster(
    body: ClusterCreate, unit: UnitDep, response: Response, caller: PrincipalDep
) -> ClusterPublic:
    """Staff create the clusters."""
    caller.require_staff("create a cluster")
    cluster = await cluster_service.create_cluster(
        unit, code=body.code, name=body.name, theme=body.theme, description=body.description
    )
    response.headers["Location"] = f"/clusters/{cluster.id}"
    return _public(cluster, response)


@router.get("")
async def list_clusters(
    unit: UnitDep,
    code: Annotated[str | None, Query(max_length=40)] = None,
    theme: Annotated[str | None, Query(max_length=60)] = None,
    status_: Annotated[ClusterStatus | None, Query(alias="status")] = None,
) -> dict[str, list[ClusterPublic] | None]:
    """Every cluster (there are a handful), by code; same page shape as companies."""
    clusters = await unit.clusters.find(code=code, theme=theme, status=status_)
    return {"items": [ClusterPublic.of(cluster) for cluster in clusters], "next_cursor": None}


@router.get("/{cluster_id}")
async def get_cluster(cluster_id: str, unit: UnitDep, response: Response) -> ClusterPublic:
    return _public(await cluster_service.load_cluster(unit, cluster_id), response)


@router.patch("/{cluster_id}")
async def update_cluster(
    *,
    cluster_id: str,
    body: ClusterUpdate,
    unit: UnitDep,
    version: IfMatchDep,
    response: Response,
    caller: PrincipalDep,
) -> ClusterPublic:
    """Staff, or the cluster's animator."""
    caller.require_animates(cluster_id, "change this cluster")
    cluster = await cluster_service.update_cluster(
        unit,
        cluster_id=cluster_id,
        expected_version=version,
        name=body.name,
        theme=body.theme,
        description=body.description,
    )
    return _public(cluster, response)


@router.post("/{cluster_id}/close")
async def close_cluster(
    cluster_id: str, unit: UnitDep, version: IfMatchDep, response: Response, caller: PrincipalDep
) -> ClusterPublic:
    caller.require_animates(cluster_id, "close this cluster")
    cluster = await cluster_service.close_cluster(
        unit, cluster_id=cluster_id, expected_version=version
    )
    return _public(cluster, response)


@router.get("/{cluster_id}/members")
async def list_members(cluster_id: str, unit: UnitDep) -> list[MemberPublic]:
    cluster = await cluster_service.load_cluster(unit, cluster_id)
    ids = tuple(member.company_id for member in cluster.members)
    page = await unit.companies.search(CompanyFilter(company_ids=ids), limit=500, cursor=None)
    names = {c.id: c.profile.legal_name for c in page.companies if c.profile is not None}
    return [MemberPublic.of(member, names.get(member.company_id)) for member in cluster.members]


@router.put("/{cluster_id}/members/{company_id}")
async def join_cluster(
    *,
    cluster_id: str,
    company_id: str,
    body: MemberIn,
    unit: UnitDep,
    response: Response,
    caller: PrincipalDep,
) -> ClusterPublic:
    """Idempotent: joining again with the same role changes nothing (200 either way). Staff or
    the cluster's animator."""
    caller.require_animates(cluster_id, "manage this cluster's members")
    cluster, _ = await cluster_service.join_cluster(
        unit, cluster_id=cluster_id, company_id=company_id, role=body.role
    )
    return _public(cluster, response)


@router.delete("/{cluster_id}/members/{company_id}")
async def leave_cluster(
    cluster_id: str, company_id: str, unit: UnitDep, response: Response, caller: PrincipalDep
) -> ClusterPublic:
    """Staff, the cluster's animator, or the company itself leaving."""
    if not caller.acts_for(company_id):
        caller.require_animates(cluster_id, "manage this cluster's members")
    cluster = await cluster_service.leave_cluster(
        unit, cluster_id=cluster_id, company_id=company_id
    )
    return _public(cluster, response)
