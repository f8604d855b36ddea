"""Registry REST API: companies. Domain errors become statuses in `eci_common.http`."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from eci_common.http import current_correlation_id
from eci_common.outbox import OutboxRelay
from eci_registry import service
from eci_registry.domain import Company, ValueChainRole, country_is_valid, siren_is_valid
from eci_registry.repository import CompanyRepository


@dataclass(frozen=True)
class RegistryContext:
    """What the routes need, built in the lifespan."""

    companies: CompanyRepository
    relay: OutboxRelay


def _context(request: Request) -> RegistryContext:
    context: RegistryContext = request.app.state.registry
    return context


ContextDep = Annotated[RegistryContext, Depends(_context)]


class CompanyCreate(BaseModel):
    """A company's minimal profile, as submitted."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    legal_name: str = Field(min_length=1, max_length=200)
    siren: str | None = Field(
        None, description="9 digits, Luhn-checked; omit for foreign companies"
    )
    country: str = Field("FR", description="ISO 3166-1 alpha-2")
    region: str | None = Field(None, max_length=100)
    city: str | None = Field(None, max_length=100)
    roles: list[ValueChainRole] = Field(min_length=1, max_length=15)
    capabilities: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=100
    )

    @field_validator("siren")
    @classmethod
    def _siren(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = value.replace(" ", "")
        if not siren_is_valid(compact):
            raise ValueError("a SIREN is 9 digits with a valid Luhn checksum")
        return compact

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        upper = value.upper()
        if not country_is_valid(upper):
            raise ValueError("an ISO 3166-1 alpha-2 code such as FR or CH")
        return upper


class CompanyPublic(BaseModel):
    """A company as the API shows it."""

    id: str
    legal_name: str
    siren: str | None
    country: str
    region: str | None
    city: str | None
    roles: list[ValueChainRole]
    capabilities: list[str]
    registered_at: datetime
    version: int
    active: bool

    @classmethod
    def of(cls, company: Company) -> "CompanyPublic":
        return cls(
            id=company.id,
            legal_name=company.legal_name,
            siren=company.siren,
            country=company.country,
            region=company.region,
            city=company.city,
            roles=company.roles,
            capabilities=company.capabilities,
            registered_at=company.registered_at,
            version=company.version,
            active=company.active,
        )


router = APIRouter(prefix="/companies", tags=["companies"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_company(
    body: CompanyCreate, context: ContextDep, response: Response
) -> CompanyPublic:
    company = await service.register_company(
        repository=context.companies,
        notify_outbox=context.relay.wake,
        correlation_id=current_correlation_id(),
        legal_name=body.legal_name,
        siren=body.siren,
        country=body.country,
        region=body.region,
        city=body.city,
        roles=body.roles,
        capabilities=body.capabilities,
    )
    response.headers["Location"] = f"/companies/{company.id}"
    response.headers["ETag"] = f'"{company.version}"'
    return CompanyPublic.of(company)


@router.get("/{company_id}")
async def get_company(company_id: str, context: ContextDep, response: Response) -> CompanyPublic:
    company = await service.get_company(repository=context.companies, company_id=company_id)
    response.headers["ETag"] = f'"{company.version}"'
    return CompanyPublic.of(company)
