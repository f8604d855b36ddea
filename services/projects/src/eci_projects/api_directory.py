"""Projects REST API. For now: its read model of companies, as it stands."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from eci_common.errors import NotFound
from eci_projects.read_model import CompanyDirectory, KnownCompany


def _directory(request: Request) -> CompanyDirectory:
    directory: CompanyDirectory = request.app.state.directory
    return directory


DirectoryDep = Annotated[CompanyDirectory, Depends(_directory)]


class KnownCompanyPublic(BaseModel):
    """A company as projects knows it from registry events."""

    id: str
    legal_name: str | None
    country: str | None
    region: str | None
    roles: list[str]
    capabilities: list[str]
    status: str
    version: int
    registered_at: datetime | None
    clusters: list[str]

    @classmethod
    def of(cls, company: KnownCompany, clusters: list[str]) -> "KnownCompanyPublic":
        return cls(**company.__dict__, clusters=clusters)


router = APIRouter(prefix="/companies", tags=["read model"])


@router.get("")
async def list_companies(
    directory: DirectoryDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[KnownCompanyPublic]:
    return [
        KnownCompanyPublic.of(company, await directory.clusters_of(company.id))
        for company in await directory.all(limit=limit)
    ]


@router.get("/{company_id}")
async def get_company(company_id: str, directory: DirectoryDep) -> KnownCompanyPublic:
    company = await directory.get(company_id)
    if company is None:
        raise NotFound(f"projects knows no company {company_id}")
    return KnownCompanyPublic.of(company, await directory.clusters_of(company_id))
