"""Registry REST API: companies. Domain errors become statuses in `eci_common.http`."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from eci_common.auth import Principal, PrincipalDep
from eci_common.http import IfMatchDep, set_etag
from eci_registry import service
from eci_registry.api_models import (
    ClusterPublic,
    CompanyCreate,
    CompanyPublic,
    CompanySummary,
    CompanyUpdate,
    Deactivation,
    Page,
    Tombstone,
)
from eci_registry.api_support import UnitDep
from eci_registry.companies import Company, CompanyStatus
from eci_registry.domain import Membership, ValueChainRole
from eci_registry.repository import CompanyFilter
from eci_registry.taxonomy import load_taxonomy

router = APIRouter(prefix="/companies", tags=["companies"])

GONE: dict[int | str, dict[str, Any]] = {
    410: {"model": Tombstone, "description": "The company was erased (GDPR)."}
}


class ErrorDetail(BaseModel):
    """What an error answers (validation errors aside): why, in words."""

    detail: str


# A change to an erased company is refused like any other: no tombstone, a reason.
GONE_ON_CHANGE: dict[int | str, dict[str, Any]] = {
    410: {"model": ErrorDetail, "description": "The company was erased (GDPR)."}
}


def _gone(company: Company) -> JSONResponse:
    tombstone = Tombstone(
        id=company.id, status=company.status, version=company.version, erased_at=company.erased_at
    )
    return JSONResponse(tombstone.model_dump(mode="json"), status_code=status.HTTP_410_GONE)


def _public(company: Company, response: Response, caller: Principal) -> CompanyPublic:
    set_etag(response, company.version)
    return CompanyPublic.of(company, with_contacts=caller.acts_for(company.id))


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_company(
    body: CompanyCreate, unit: UnitDep, response: Response, caller: PrincipalDep
) -> CompanyPublic:
    """Staff register a member company."""
    caller.require_staff("register a company")
    company = await service.register_company(unit, profile=body.to_profile())
    response.headers["Location"] = f"/companies/{company.id}"
    return _public(company, response, caller)


@router.get("")
async def search_companies(
    *,
    unit: UnitDep,
    capability: Annotated[
        str | None, Query(description="A capability code; a theme also matches its skills")
    ] = None,
    role: ValueChainRole | None = None,
    region: Annotated[str | None, Query(max_length=120)] = None,
    cluster: Annotated[str | None, Query(description="Members of this cluster id")] = None,
    membership: Membership | None = None,
    status_: Annotated[CompanyStatus | None, Query(alias="status")] = None,
    siren: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=120, description="Name contains")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Page[CompanySummary]:
    """Companies by name, filtered; erased ones only when asked with `status=erased`."""
    if status_ is CompanyStatus.ERASED:
        raise _invalid("status", "erased companies are not listed")
    capabilities: tuple[str, ...] = ()
    if capability is not None:
        taxonomy = load_taxonomy()
        if not taxonomy.is_known(capability):
            raise _invalid("capability", f"unknown capability {capability!r}")
        theme = next((t for t in taxonomy.themes if t.code == capability), None)
        capabilities = (
            (capability, *(skill.code for skill in theme.skills)) if theme else (capability,)
        )
    criteria = CompanyFilter(
        capabilities=capabilities,
        role=role,
        region=region,
        membership=membership,
        status=status_,
        siren=siren,
        name_contains=q,
    )
    try:
        page = await service.search_companies(
            unit, criteria=criteria, cluster_id=cluster, limit=limit, cursor=cursor
        )
    except ValueError as exc:
        raise _invalid("cursor", str(exc)) from exc
    return Page[CompanySummary](
        items=[CompanySummary.of(company) for company in page.companies],
        next_cursor=page.next_cursor,
    )


def _invalid(parameter: str, message: str) -> HTTPException:
    """A 422 in FastAPI's documented shape (`HTTPValidationError`)."""
    return HTTPException(
        422, [{"loc": ["query", parameter], "msg": message, "type": "value_error"}]
    )


@router.get("/{company_id}", responses=GONE)
async def get_company(
    company_id: str, unit: UnitDep, response: Response, caller: PrincipalDep
) -> CompanyPublic:
    """Any caller sees the profile; contacts only staff and the company's own people."""
    company = await service.load_company(unit, company_id)
    if company.status is CompanyStatus.ERASED:
        return _gone(company)  # type: ignore[return-value]  # documented 410 body
    return _public(company, response, caller)


@router.patch("/{company_id}", responses=GONE_ON_CHANGE)
async def update_company(
    *,
    company_id: str,
    body: CompanyUpdate,
    unit: UnitDep,
    version: IfMatchDep,
    response: Response,
    caller: PrincipalDep,
) -> CompanyPublic:
    """Changes the fields present in the body; needs `If-Match` with the company's ETag.
    Staff, or the company's own contacts."""
    caller.require_acts_for(company_id, "change this company")
    company = await service.update_company(
        unit, company_id=company_id, expected_version=version, changes=body.changes()
    )
    return _public(company, response, caller)


@router.post("/{company_id}/deactivate", responses=GONE_ON_CHANGE)
async def deactivate_company(
    *,
    company_id: str,
    body: Deactivation,
    unit: UnitDep,
    version: IfMatchDep,
    response: Response,
    caller: PrincipalDep,
) -> CompanyPublic:
    caller.require_acts_for(company_id, "deactivate this company")
    company = await service.deactivate_company(
        unit, company_id=company_id, expected_version=version, reason=body.reason
    )
    return _public(company, response, caller)


@router.post("/{company_id}/reactivate", responses=GONE_ON_CHANGE)
async def reactivate_company(
    company_id: str, unit: UnitDep, version: IfMatchDep, response: Response, caller: PrincipalDep
) -> CompanyPublic:
    caller.require_staff("reactivate a company")
    company = await service.reactivate_company(
        unit, company_id=company_id, expected_version=version
    )
    return _public(company, response, caller)


@router.post("/{company_id}/erase")
async def erase_company(company_id: str, unit: UnitDep, caller: PrincipalDep) -> Tombstone:
    """GDPR erasure: contacts and profile removed, memberships ended, `CompanyErased` published
    so that every service purges what it holds. Idempotent. Staff, or the company itself."""
    caller.require_acts_for(company_id, "erase this company")
    company = await service.erase_company(unit, company_id=company_id)
    return Tombstone(
        id=company.id, status=company.status, version=company.version, erased_at=company.erased_at
    )


@router.get("/{company_id}/clusters")
async def company_clusters(company_id: str, unit: UnitDep) -> list[ClusterPublic]:
    await service.load_company(unit, company_id)
    return [ClusterPublic.of(cluster) for cluster in await unit.clusters.of_company(company_id)]
