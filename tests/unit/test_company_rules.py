"""Registry rules that need no database: SIREN, country, and the aggregates' events."""

import pytest

from eci_common import topics
from eci_common.errors import Conflict, Gone, NotFound
from eci_common.events.registry import (
    CompanyContactsChangedV1,
    CompanyDeactivatedV1,
    CompanyErasedV1,
    CompanyReactivatedV1,
    CompanyRegisteredV1,
    CompanyUpdatedV1,
    MemberJoinedV1,
    MemberLeftV1,
)
from eci_registry.clusters import Cluster, ClusterRole
from eci_registry.companies import Company, CompanyStatus, Contact, Profile
from eci_registry.domain import ValueChainRole, country_is_valid, siren_is_valid


@pytest.mark.parametrize("siren", ["732829320", "552100554", "443061841"])
def test_valid_sirens(siren: str) -> None:
    assert siren_is_valid(siren)


@pytest.mark.parametrize(
    "siren",
    # The last one is 732829320 in Arabic-Indic digits: only ASCII digits make a SIREN.
    [
        "732829321",
        "12345678",
        "1234567890",
        "abcdefghi",
        "",
        "\u0667\u0663\u0662\u0668\u0662\u0669\u0663\u0662\u0660",
    ],
)
def test_invalid_sirens(siren: str) -> None:
    assert not siren_is_valid(siren)


def test_country_codes() -> None:
    assert country_is_valid("FR")
    assert country_is_valid("CH")
    assert not country_is_valid("fr")
    assert not country_is_valid("FRA")


def _company() -> Company:
    return Company.register(
        Profile(
            legal_name="Boîtiers de Villers",
            siren="552100554",
            country="FR",
            region="Bourgogne-Franche-Comté",
            city="Villers-le-Lac",
            roles=(ValueChainRole.CASE_MAKER,),
            capabilities=("cases", "cases", "assembly"),
            contacts=(Contact(name="Anne Martin", email="anne@boitiers.example", consent=True),),
        )
    )


def test_registration_causes_one_public_event_with_the_public_profile_only() -> None:
    company = _company()
    [event, contacts] = company.pending
    assert isinstance(contacts, CompanyContactsChangedV1)  # internal topic, notifications only
    assert contacts.topic not in topics.PUBLIC_TOPICS
    assert [c.email for c in contacts.contacts] == ["anne@boitiers.example"]
    assert isinstance(event, CompanyRegisteredV1)
    assert event.company_id == company.id
    assert event.version == 1
    assert event.roles == ["case_maker"]
    assert event.capabilities == ["assembly", "cases"]
    assert "anne" not in event.model_dump_json().casefold()  # no personal data in events
    [contact] = company.live_profile().contacts
    assert contact.consent_at is not None  # consent is dated when given


def test_update_announces_what_changed_and_a_no_op_changes_nothing() -> None:
    company = _company()
    company.pending.clear()
    assert company.update({"city": "Morteau", "region": "Bourgogne-Franche-Comté"}) == ["city"]
    [event] = company.pending
    assert isinstance(event, CompanyUpdatedV1)
    assert event.changed_fields == ["city"]
    assert event.city == "Morteau"
    assert company.version == 2
    assert company.update({"city": "Morteau"}) == []
    assert company.version == 2


def test_consent_date_is_kept_while_consent_stands_and_dropped_when_withdrawn() -> None:
    company = _company()
    [before] = company.live_profile().contacts
    same = Contact(name="Anne Martin", email="ANNE@boitiers.example", consent=True, phone="+33 1")
    company.update({"contacts": (same,)})
    [kept] = company.live_profile().contacts
    assert kept.consent_at == before.consent_at
    company.pending.clear()
    company.update({"contacts": (Contact(name="Anne Martin", email="anne@boitiers.example"),)})
    [withdrawn] = company.live_profile().contacts
    assert withdrawn.consent_at is None
    [_, announced] = company.pending  # the new list, without consent, for notifications
    assert isinstance(announced, CompanyContactsChangedV1)
    assert announced.contacts[0].consent is False


def test_deactivate_and_reactivate_once_each() -> None:
    company = _company()
    company.deactivate("cessation")
    with pytest.raises(Conflict):
        company.deactivate(None)
    company.reactivate()
    with pytest.raises(Conflict):
        company.reactivate()
    kinds = [type(event) for event in company.pending[2:]]
    assert kinds == [CompanyDeactivatedV1, CompanyReactivatedV1]
    assert company.version == 3


def test_erasure_leaves_a_tombstone_and_refuses_later_changes() -> None:
    company = _company()
    assert company.erase() is True
    assert company.erase() is False  # idempotent
    assert company.profile is None
    assert company.status is CompanyStatus.ERASED
    assert isinstance(company.pending[-1], CompanyErasedV1)
    cleared = company.pending[-2]  # overwrites the contacts on the compacted topic
    assert isinstance(cleared, CompanyContactsChangedV1)
    assert cleared.contacts == []
    with pytest.raises(Gone):
        company.update({"city": "Paris"})
    with pytest.raises(Gone):
        company.deactivate(None)


def test_cluster_membership_rules() -> None:
    cluster = Cluster.create(code="cadrans", name="Grappe Cadrans", theme="dials", description="")
    assert cluster.join("c-1", ClusterRole.MEMBER) is True
    assert cluster.join("c-1", ClusterRole.MEMBER) is False  # idempotent
    assert cluster.join("c-1", ClusterRole.ANIMATOR) is True  # a new role is announced
    assert [m.role for m in cluster.members] == [ClusterRole.ANIMATOR]
    cluster.leave("c-1")
    with pytest.raises(NotFound):
        cluster.leave("c-1")
    kinds = [type(event).__name__ for event in cluster.pending[1:]]
    assert kinds == ["MemberJoinedV1", "MemberJoinedV1", "MemberLeftV1"]
    assert isinstance(cluster.pending[-1], MemberLeftV1)
    assert isinstance(cluster.pending[1], MemberJoinedV1)
    cluster.close()
    with pytest.raises(Conflict):
        cluster.join("c-2", ClusterRole.MEMBER)
    with pytest.raises(Conflict):
        cluster.close()
