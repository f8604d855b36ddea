"""Matchmaking on a small set of companies: the ranking and its reasons."""

from datetime import UTC, datetime

from eci_projects.matchmaking import covers, rank
from eci_projects.read_model import KnownCompany


def _company(
    company_id: str, capabilities: list[str], region: str = "Jura", status: str = "active"
) -> KnownCompany:
    return KnownCompany(
        id=company_id,
        legal_name=f"Entreprise {company_id}",
        country="FR",
        region=region,
        roles=[],
        capabilities=capabilities,
        status=status,
        version=1,
        registered_at=datetime(2024, 5, 30, tzinfo=UTC),
    )


def test_coverage_by_theme_and_skill() -> None:
    assert covers("dials", "dials")
    assert covers("dials.enamel", "dials")  # a skill covers a need for its theme
    assert covers("dials", "dials.enamel")  # a whole theme covers one of its skills
    assert not covers("dials.enamel", "dials.hands")
    assert not covers("dialsx", "dials")


def test_ranking_order_coverage_then_cluster_then_region_with_reasons() -> None:
    lead = _company("lead", ["movements"], region="Bourgogne-Franche-Comté")
    companies = [
        lead,
        _company("both-far", ["dials.enamel", "cases"], region="Île-de-France"),
        _company("one-in-cluster-far", ["dials"], region="Île-de-France"),
        _company("one-in-cluster-near", ["dials.hands"], region="Bourgogne-Franche-Comté"),
        _company("one-outside-near", ["cases.polishing"], region="Bourgogne-Franche-Comté"),
        _company("none", ["logistics"]),
        _company("deactivated", ["dials", "cases"], status="deactivated"),
        _company("erased", ["dials", "cases"], status="erased"),
        _company("partner", ["dials", "cases"]),
    ]
    ranked = rank(
        needed=("dials", "cases"),
        companies=companies,
        cluster_members={"one-in-cluster-far", "one-in-cluster-near", "lead"},
        lead=lead,
        excluded={"partner"},
    )
    assert [r.company.id for r in ranked] == [
        "both-far",
        "one-in-cluster-near",
        "one-in-cluster-far",
        "one-outside-near",
    ]
    first = ranked[0]
    assert first.covered == ("dials", "cases")
    assert first.reasons[0] == "covers 2 of 2 needed capabilities: dials, cases"
    assert "outside the cluster" in first.reasons
    near = ranked[1]
    assert near.same_cluster
    assert near.same_region
    assert "member of the project's cluster" in near.reasons
    assert "same region as the lead (Bourgogne-Franche-Comté)" in near.reasons
