"""Request and response bodies of the registry API. Storage documents are never exposed."""

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from eci_registry.clusters import Cluster, ClusterRole, ClusterStatus, Member
from eci_registry.companies import Company, CompanyStatus, Contact, Profile
from eci_registry.domain import (
    HeadcountBand,
    Language,
    Membership,
    ValueChainRole,
    country_is_valid,
    siren_is_valid,
)
from eci_registry.taxonomy import load_taxonomy

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,}$"
PHONE = r"^\+?[0-9 ().-]{6,25}$"
Short = Annotated[str, Field(min_length=1, max_length=120)]
T = TypeVar("T")


class ContactIn(BaseModel):
    """A person to contact; consent to be contacted is dated by the registry."""

    model_config = _STRICT

    name: Short
    email: str = Field(pattern=EMAIL, max_length=254)
    role: Short | None = None
    phone: str | None = Field(None, pattern=PHONE)
    language: Language = Language.FR
    consent: bool = False

    def to_domain(self) -> Contact:
        return Contact(
            name=self.name,
            email=self.email,
            role=self.role,
            phone=self.phone,
            language=self.language,
            consent=self.consent,
        )


def _check_siren(value: str | None) -> str | None:
    if value is None:
        return None
    compact = value.replace(" ", "")
    if not siren_is_valid(compact):
        raise ValueError("a SIREN is 9 digits with a valid Luhn checksum")
    return compact


def _check_country(value: str) -> str:
    upper = value.upper()
    if not country_is_valid(upper):
        raise ValueError("an ISO 3166-1 alpha-2 code such as FR or CH")
    return upper


def _check_capabilities(values: list[str]) -> list[str]:
    taxonomy = load_taxonomy()
    unknown = [code for code in values if not taxonomy.is_known(code)]
    if unknown:
        raise ValueError(f"unknown capability codes {unknown}; see GET /capabilities")
    return values


class _ProfileFields(BaseModel):
    model_config = _STRICT

    legal_name: str = Field(min_length=1, max_length=200)
    siren: str | None = Field(None, description="9 digits, Luhn-checked; none for foreign ones")
    country: str = Field("FR", description="ISO 3166-1 alpha-2")
    region: Short | None = None
    city: Short | None = None
    website: HttpUrl | None = None
    headcount_band: HeadcountBand | None = None
    membership: Membership = Membership.MEMBER
    roles: list[ValueChainRole] = Field(min_length=1, max_length=15)
    capabilities: list[str] = Field(default_factory=list, max_length=100)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)

    _siren = field_validator("siren")(_check_siren)
    _country = field_validator("country")(_check_country)
    _capabilities = field_validator("capabilities")(_check_capabilities)


class CompanyCreate(_ProfileFields):
    """A company's profile, as submitted for registration."""

    def to_profile(self) -> Profile:
        return Profile(
            legal_name=self.legal_name,
            siren=self.siren,
            country=self.country,
            region=self.region,
            city=self.city,
            website=str(self.website) if self.website else None,
            headcount_band=self.headcount_band,
            membership=self.membership,
            roles=tuple(self.roles),
            capabilities=tuple(self.capabilities),
            contacts=tuple(contact.to_domain() for contact in self.contacts),
        )


class CompanyUpdate(BaseModel):
    """A partial profile: only the fields present change; `null` clears an optional field."""

    model_config = _STRICT

    legal_name: str | None = Field(None, min_length=1, max_length=200)
    siren: str | None = None
    country: str | None = None
    region: Short | None = None
    city: Short | None = None
    website: HttpUrl | None = None
    headcount_band: HeadcountBand | None = None
    membership: Membership | None = None
    roles: list[ValueChainRole] | None = Field(None, min_length=1, max_length=15)
    capabilities: list[str] | None = Field(None, max_length=100)
    contacts: list[ContactIn] | None = Field(None, max_length=20)

    _siren = field_validator("siren")(_check_siren)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return None if value is None else _check_country(value)

    @field_validator("capabilities")
    @classmethod
    def _capabilities(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_capabilities(value)

    @model_validator(mode="after")
    def _not_empty(self) -> "CompanyUpdate":
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        for required in ("legal_name", "country", "membership", "roles"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be cleared")
        return self

    def changes(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "website":
                value = str(value) if value else None
            elif name in ("roles", "capabilities"):
                value = tuple(value or ())  # null clears the capabilities (roles refuse it)
            elif name == "contacts":
                value = tuple(contact.to_domain() for contact in value or ())
            values[name] = value
        return values


class Deactivation(BaseModel):
    model_config = _STRICT

    reason: str | None = Field(None, max_length=500)


class ContactOut(BaseModel):
    name: str
    email: str
    role: str | None
    phone: str | None
    language: Language
    consent: bool
    consent_at: datetime | None


class CompanySummary(BaseModel):
    """A company in a list: its public profile, without contacts."""

    id: str
    status: CompanyStatus
    version: int
    legal_name: str
    siren: str | None
    country: str
    region: str | None
    city: str | None
    website: str | None
    headcount_band: HeadcountBand | None
    membership: Membership
    roles: list[ValueChainRole]
    capabilities: list[str]
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, company: Company) -> "CompanySummary":
        profile = company.live_profile()
        return cls(
            id=company.id,
            status=company.status,
            version=company.version,
            registered_at=company.registered_at,
            updated_at=company.updated_at,
            **{name: getattr(profile, name) for name in _SUMMARY_FIELDS},
        )


_SUMMARY_FIELDS = (
    "legal_name", "siren", "country", "region", "city", "website",
    "headcount_band", "membership", "roles", "capabilities",
)  # fmt: skip


class CompanyPublic(CompanySummary):
    """A company with its contacts; `contacts` is null for a caller who may not see them (only
    staff and the company's own people may: they are personal data)."""

    contacts: list[ContactOut] | None

    @classmethod
    def of(cls, company: Company, *, with_contacts: bool = True) -> "CompanyPublic":
        summary = CompanySummary.of(company)
        contacts = (
            [ContactOut(**contact.__dict__) for contact in company.live_profile().contacts]
            if with_contacts
            else None
        )
        return cls(**summary.model_dump(), contacts=contacts)


class Tombstone(BaseModel):
    """What remains of an erased company."""

    id: str
    status: CompanyStatus
    version: int
    erased_at: datetime | None


class Page(BaseModel, Generic[T]):
    """One page of results; pass `next_cursor` as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None


class ClusterCreate(BaseModel):
    model_config = _STRICT

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$", description="e.g. 'mouvements'")
    name: str = Field(min_length=1, max_length=120)
    theme: str = Field(description="A theme code of the capability taxonomy")
    description: str = Field("", max_length=2000)

    @field_validator("theme")
    @classmethod
    def _theme(cls, value: str) -> str:
        return _check_theme(value)


def _check_theme(value: str) -> str:
    themes = {theme.code for theme in load_taxonomy().themes}
    if value not in themes:
        raise ValueError(f"unknown theme; one of {sorted(themes)}")
    return value


class ClusterUpdate(BaseModel):
    model_config = _STRICT

    name: str | None = Field(None, min_length=1, max_length=120)
    theme: str | None = None
    description: str | None = Field(None, max_length=2000)

    @field_validator("theme")
    @classmethod
    def _theme(cls, value: str | None) -> str | None:
        return None if value is None else _check_theme(value)


class ClusterPublic(BaseModel):
    id: str
    code: str
    name: str
    theme: str
    description: str
    status: ClusterStatus
    member_count: int
    version: int
    created_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, cluster: Cluster) -> "ClusterPublic":
        return cls(
            id=cluster.id,
            code=cluster.code,
            name=cluster.name,
            theme=cluster.theme,
            description=cluster.description,
            status=cluster.status,
            member_count=len(cluster.members),
            version=cluster.version,
            created_at=cluster.created_at,
            closed_at=cluster.closed_at,
        )


class MemberIn(BaseModel):
    model_config = _STRICT

    role: ClusterRole = ClusterRole.MEMBER


class MemberPublic(BaseModel):
    company_id: str
    legal_name: str | None
    role: ClusterRole
    joined_at: datetime

    @classmethod
    def of(cls, member: Member, legal_name: str | None) -> "MemberPublic":
        return cls(
            company_id=member.company_id,
            legal_name=legal_name,
            role=member.role,
            joined_at=member.joined_at,
        )
