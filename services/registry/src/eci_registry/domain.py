"""Companies of the registry: their rules, and the events that their changes cause. No I/O."""

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from eci_common.events.registry import CompanyRegisteredV1

_SIREN = re.compile(r"^\d{9}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class ValueChainRole(StrEnum):
    """A company's place in the watchmaking value chain."""

    WATCH_BRAND = "watch_brand"
    MOVEMENT_MAKER = "movement_maker"
    COMPONENT_MAKER = "component_maker"
    CASE_MAKER = "case_maker"
    DIAL_MAKER = "dial_maker"
    STRAP_MAKER = "strap_maker"
    JEWELLER = "jeweller"
    ASSEMBLER = "assembler"
    SUBCONTRACTOR = "subcontractor"
    RETAILER = "retailer"
    AFTER_SALES = "after_sales"
    LOGISTICS = "logistics"
    AUTOMATION_INTEGRATOR = "automation_integrator"
    DESIGN_OFFICE = "design_office"
    SCHOOL_OR_LAB = "school_or_lab"


def siren_is_valid(siren: str) -> bool:
    """Nine digits whose Luhn checksum holds (the INSEE rule for SIREN numbers)."""
    if not _SIREN.match(siren):
        return False
    total = 0
    for index, char in enumerate(reversed(siren)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _now() -> datetime:
    """Current UTC time at millisecond precision, the precision BSON dates keep."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def country_is_valid(country: str) -> bool:
    """ISO 3166-1 alpha-2 shape (two upper-case letters)."""
    return bool(_COUNTRY.match(country))


@dataclass
class Company:
    """A registered company. `version` grows by one with every change."""

    id: str
    legal_name: str
    siren: str | None
    country: str
    region: str | None
    city: str | None
    roles: list[ValueChainRole]
    capabilities: list[str]
    registered_at: datetime
    version: int = 1
    active: bool = True
    pending: list[CompanyRegisteredV1] = field(default_factory=list, repr=False)

    @classmethod
    def register(
        cls,
        *,
        legal_name: str,
        siren: str | None,
        country: str,
        region: str | None,
        city: str | None,
        roles: list[ValueChainRole],
        capabilities: list[str],
    ) -> "Company":
        """A new company, holding the `CompanyRegistered` event it causes."""
        company = cls(
            id=str(uuid.uuid4()),
            legal_name=legal_name,
            siren=siren,
            country=country,
            region=region,
            city=city,
            roles=list(roles),
            capabilities=sorted(set(capabilities)),
            registered_at=_now(),
        )
        company.pending.append(
            CompanyRegisteredV1(
                company_id=company.id,
                version=company.version,
                legal_name=company.legal_name,
                siren=company.siren,
                country=company.country,
                region=company.region,
                city=company.city,
                roles=[role.value for role in company.roles],
                capabilities=company.capabilities,
                registered_at=company.registered_at,
            )
        )
        return company
