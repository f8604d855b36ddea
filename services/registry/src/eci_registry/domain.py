"""Value objects and rules shared by the registry's aggregates. No I/O."""

import re
from enum import StrEnum

_SIREN = re.compile(r"^[0-9]{9}$")  # ASCII digits only: `\d` matches the digits of any script
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


class HeadcountBand(StrEnum):
    """Size of the company, in employees."""

    MICRO = "1-9"
    SMALL = "10-49"
    MEDIUM = "50-249"
    INTERMEDIATE = "250-999"
    LARGE = "1000+"


class Membership(StrEnum):
    """Whether the company is a France Horlogerie member or a partner of the ECI."""

    MEMBER = "member"
    PARTNER = "partner"


class Language(StrEnum):
    """The language a contact reads."""

    FR = "fr"
    EN = "en"


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


def country_is_valid(country: str) -> bool:
    """ISO 3166-1 alpha-2 shape (two upper-case letters)."""
    return bool(_COUNTRY.match(country))
