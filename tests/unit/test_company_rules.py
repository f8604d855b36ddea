"""Registry rules that need no database: SIREN checksum, country shape, registration event."""

import pytest

from eci_registry.domain import Company, ValueChainRole, country_is_valid, siren_is_valid


@pytest.mark.parametrize("siren", ["732829320", "552100554", "443061841"])
def test_valid_sirens(siren: str) -> None:
    assert siren_is_valid(siren)


@pytest.mark.parametrize("siren", ["732829321", "12345678", "1234567890", "abcdefghi", ""])
def test_invalid_sirens(siren: str) -> None:
    assert not siren_is_valid(siren)


def test_country_codes() -> None:
    assert country_is_valid("FR")
    assert country_is_valid("CH")
    assert not country_is_valid("fr")
    assert not country_is_valid("FRA")


def test_registration_causes_one_event_with_the_profile() -> None:
    company = Company.register(
        legal_name="Boîtiers de Villers",
        siren="552100554",
        country="FR",
        region="Bourgogne-Franche-Comté",
        city="Villers-le-Lac",
        roles=[ValueChainRole.CASE_MAKER],
        capabilities=["cases", "cases", "assembly"],
    )
    [event] = company.pending
    assert event.company_id == company.id
    assert event.version == 1
    assert event.roles == ["case_maker"]
    assert event.capabilities == ["assembly", "cases"]
    assert event.partition_key() == company.id
