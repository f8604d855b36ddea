"""The capability taxonomy (packaged data and its checks) and the demo data that uses it.

The seeding itself runs against a small in-memory fake of the registry's REST routes, served on
the loopback interface: no broker, no database.
"""

import copy
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from eci_registry import demo
from eci_registry.demo import DEMO_CLUSTERS, DEMO_COMPANIES, SeedError, seed
from eci_registry.domain import ValueChainRole, siren_is_valid
from eci_registry.taxonomy import InvalidTaxonomy, Taxonomy, load_taxonomy, parse_taxonomy

WORKSHOP_THEMES = [
    ("movements", "Mouvements", "Movements"),
    ("cases", "Boîtiers", "Cases"),
    ("dials", "Cadrans", "Dials"),
    ("straps_bracelets", "Bracelets", "Straps and bracelets"),
    ("jewellery_watches", "Montre bijou", "Jewellery watches"),
    ("assembly", "Assemblage", "Assembly"),
    ("process_automation", "Automatisation des process", "Process automation"),
    ("project_management", "Maîtrise d'œuvre", "Project management"),
    ("logistics", "Logistique", "Logistics"),
    ("after_sales", "SAV", "After-sales service"),
]
SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
DATA_FILE = (
    Path(__file__).parents[2] / "services/registry/src/eci_registry/taxonomy/capabilities-v1.json"
)


@pytest.fixture
def taxonomy() -> Taxonomy:
    return load_taxonomy()


# --- the taxonomy ----------------------------------------------------------------------------


def test_the_ten_workshop_themes_in_order_with_their_labels(taxonomy: Taxonomy) -> None:
    assert taxonomy.version == 1
    assert [(t.code, t.label_fr, t.label_en) for t in taxonomy.themes] == WORKSHOP_THEMES


def test_each_theme_has_four_to_six_skills_prefixed_by_it(taxonomy: Taxonomy) -> None:
    for theme in taxonomy.themes:
        assert 4 <= len(theme.skills) <= 6, theme.code
        for skill in theme.skills:
            prefix, _, rest = skill.code.partition(".")
            assert prefix == theme.code, skill.code
            assert SNAKE.match(rest), skill.code
            assert taxonomy.theme_of(skill.code) == theme.code


def test_codes_are_unique_and_all_known(taxonomy: Taxonomy) -> None:
    listed = [t.code for t in taxonomy.themes] + [s.code for t in taxonomy.themes for s in t.skills]
    assert len(listed) == len(set(listed))
    assert taxonomy.codes() == frozenset(listed)
    assert all(taxonomy.is_known(code) for code in listed)


def test_labels_are_present_in_both_languages(taxonomy: Taxonomy) -> None:
    for code in taxonomy.codes():
        assert taxonomy.label(code, "fr").strip(), code
        assert taxonomy.label(code, "en").strip(), code


def test_lookups(taxonomy: Taxonomy) -> None:
    assert taxonomy.theme_of("after_sales") == "after_sales"
    assert taxonomy.theme_of("movements.escapement") == "movements"
    assert taxonomy.label("after_sales", "fr") == "SAV"
    assert taxonomy.label("project_management", "fr") == "Maîtrise d'œuvre"
    assert taxonomy.label("dials.enamel", "fr") == "Émail"
    assert taxonomy.label("dials.enamel", "en") == "Enamel"
    for unknown in ["", "movement", "movements.", "movements.teleportation", "MOVEMENTS"]:
        assert not taxonomy.is_known(unknown)
    with pytest.raises(KeyError):
        taxonomy.theme_of("movements.teleportation")
    with pytest.raises(KeyError):
        taxonomy.label("nonsense", "en")


def test_the_packaged_taxonomy_is_read_once(taxonomy: Taxonomy) -> None:
    assert load_taxonomy() is taxonomy


def test_the_packaged_file_loads_from_a_path_too(tmp_path: Path, taxonomy: Taxonomy) -> None:
    copied = tmp_path / "capabilities.json"
    copied.write_text(DATA_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_taxonomy(copied) == taxonomy


def _break_duplicate_skill(doc: dict[str, Any]) -> None:
    skills = doc["themes"][0]["skills"]
    skills.append(copy.deepcopy(skills[0]))


def _break_duplicate_theme(doc: dict[str, Any]) -> None:
    doc["themes"].append(copy.deepcopy(doc["themes"][0]))


def _break_skill_prefix(doc: dict[str, Any]) -> None:
    doc["themes"][0]["skills"][0]["code"] = "cases.escapement"


def _break_skill_without_prefix(doc: dict[str, Any]) -> None:
    doc["themes"][0]["skills"][0]["code"] = "escapement"


def _break_missing_english(doc: dict[str, Any]) -> None:
    del doc["themes"][1]["skills"][2]["labels"]["en"]


def _break_blank_french(doc: dict[str, Any]) -> None:
    doc["themes"][2]["labels"]["fr"] = "  "


def _break_theme_code_case(doc: dict[str, Any]) -> None:
    doc["themes"][3]["code"] = "Straps-Bracelets"


def _break_themes_shape(doc: dict[str, Any]) -> None:
    doc["themes"] = {"movements": "Mouvements"}


def _break_version(doc: dict[str, Any]) -> None:
    doc["version"] = "1"


def _break_unknown_field(doc: dict[str, Any]) -> None:
    doc["themes"][0]["colour"] = "blue"


@pytest.mark.parametrize(
    "breakage",
    [
        _break_duplicate_skill,
        _break_duplicate_theme,
        _break_skill_prefix,
        _break_skill_without_prefix,
        _break_missing_english,
        _break_blank_french,
        _break_theme_code_case,
        _break_themes_shape,
        _break_version,
        _break_unknown_field,
    ],
)
def test_a_broken_file_is_refused(tmp_path: Path, breakage: Any) -> None:
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    breakage(document)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json"):
        load_taxonomy(broken)
    with pytest.raises(InvalidTaxonomy):  # the same rules hold without a file
        parse_taxonomy(document)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "truncated.json"
    broken.write_text(DATA_FILE.read_text(encoding="utf-8")[:200], encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_taxonomy(broken)


# --- the demo data ---------------------------------------------------------------------------


def test_one_cluster_per_workshop_theme(taxonomy: Taxonomy) -> None:
    assert len(DEMO_CLUSTERS) == 10
    assert [c.theme for c in DEMO_CLUSTERS] == [t.code for t in taxonomy.themes]
    assert [c.code for c in DEMO_CLUSTERS] == [
        "mouvements",
        "boitiers",
        "cadrans",
        "bracelets",
        "montre-bijou",
        "assemblage",
        "automatisation",
        "maitrise-oeuvre",
        "logistique",
        "sav",
    ]
    for cluster in DEMO_CLUSTERS:
        assert cluster.name.startswith("Grappe "), cluster.code
        assert cluster.description.endswith("."), cluster.code


def test_about_thirty_companies_with_unique_names() -> None:
    assert 25 <= len(DEMO_COMPANIES) <= 35
    names = [c.legal_name for c in DEMO_COMPANIES]
    assert len(names) == len(set(names))
    slugs = [c.slug for c in DEMO_COMPANIES]
    assert len(slugs) == len(set(slugs))


def test_sirens_are_valid_and_unique_and_foreign_companies_have_none() -> None:
    sirens = [c.siren for c in DEMO_COMPANIES if c.siren is not None]
    assert len(sirens) == len(set(sirens))
    for company in DEMO_COMPANIES:
        assert company.country in {"FR", "CH"}, company.legal_name
        if company.country == "FR":
            assert company.siren is not None, company.legal_name
            assert siren_is_valid(company.siren), company.legal_name
            assert company.siren.startswith("9"), company.legal_name
        else:
            assert company.siren is None, company.legal_name
    foreign = [c for c in DEMO_COMPANIES if c.country != "FR"]
    assert 2 <= len(foreign) <= 3


def test_profiles_use_the_registry_vocabulary(taxonomy: Taxonomy) -> None:
    roles = {role.value for role in ValueChainRole}
    for company in DEMO_COMPANIES:
        payload = company.payload()
        assert payload["roles"], company.legal_name
        assert set(payload["roles"]) <= roles, company.legal_name
        assert payload["capabilities"], company.legal_name
        for capability in payload["capabilities"]:
            assert taxonomy.is_known(capability), (company.legal_name, capability)
        assert payload["headcount_band"] in {"1-9", "10-49", "50-249", "250-999", "1000+"}
        assert payload["membership"] in {"member", "partner"}
        assert payload["website"] == f"https://{company.slug}.example"
        assert payload["contacts"], company.legal_name
        for contact in payload["contacts"]:
            assert contact["email"].endswith(f"@{company.slug}.example"), contact
            assert re.fullmatch(r"[a-z0-9.-]+@[a-z0-9.-]+", contact["email"]), contact
            assert contact["phone"].startswith("+33 " if company.country == "FR" else "+41 ")
            assert contact["language"] in {"fr", "en"}
            assert isinstance(contact["consent"], bool)


def test_the_value_chain_is_covered() -> None:
    used = {role for company in DEMO_COMPANIES for role in company.roles}
    assert used == set(ValueChainRole)


def test_companies_join_one_to_three_clusters_of_their_themes(taxonomy: Taxonomy) -> None:
    theme_of_cluster = {c.code: c.theme for c in DEMO_CLUSTERS}
    for company in DEMO_COMPANIES:
        assert 1 <= len(company.clusters) <= 3, company.legal_name
        assert len(set(company.clusters)) == len(company.clusters), company.legal_name
        themes = {taxonomy.theme_of(capability) for capability in company.capabilities}
        for code in company.clusters:
            assert theme_of_cluster[code] in themes, (company.legal_name, code)


def test_each_cluster_has_exactly_one_animator_among_its_members() -> None:
    animators: dict[str, list[str]] = {c.code: [] for c in DEMO_CLUSTERS}
    for company in DEMO_COMPANIES:
        if company.animates is not None:
            assert company.animates in company.clusters, company.legal_name
            animators[company.animates].append(company.legal_name)
    assert {code: len(names) for code, names in animators.items()} == dict.fromkeys(animators, 1)


# --- seeding, against a fake registry --------------------------------------------------------


@dataclass
class FakeRegistry:
    """Just enough of the registry's routes for the seed, with its duplicate rules."""

    clusters: list[dict[str, Any]] = field(default_factory=list)
    companies: list[dict[str, Any]] = field(default_factory=list)
    members: dict[tuple[str, str], str] = field(default_factory=dict)
    correlation_ids: set[str | None] = field(default_factory=set)
    fail_with: int | None = None

    def handle(self, method: str, url: str, body: Any) -> tuple[int, Any]:
        if self.fail_with is not None:
            return self.fail_with, {"detail": "the registry is having a bad day"}
        parsed = urllib.parse.urlparse(url)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        parts = parsed.path.strip("/").split("/")
        if parts == ["clusters"]:
            return self._clusters(method, query, body)
        if parts == ["companies"]:
            return self._companies(method, query, body)
        if method == "PUT" and len(parts) == 4 and parts[0] == "clusters":
            return self._join(parts[1], parts[3], body)
        return 404, {"detail": f"no route {method} {url}"}

    def _clusters(self, method: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET":
            return 200, self._page([c for c in self.clusters if c["code"] == query.get("code")])
        if any(c["code"] == body["code"] for c in self.clusters):
            return 409, {"detail": "cluster code taken"}
        cluster = {"id": f"cl-{len(self.clusters)}", **body}
        self.clusters.append(cluster)
        return 201, cluster

    def _companies(self, method: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET":
            if "siren" in query:
                found = [c for c in self.companies if c["siren"] == query["siren"]]
            else:  # a loose search, as a real one would be
                words = query["q"].lower().split()
                found = [
                    c for c in self.companies if any(w in c["legal_name"].lower() for w in words)
                ]
            return 200, self._page(found)
        if body["siren"] and any(c["siren"] == body["siren"] for c in self.companies):
            return 409, {"detail": "SIREN taken"}
        company = {"id": f"co-{len(self.companies)}", **body}
        self.companies.append(company)
        return 201, company

    def _join(self, cluster_id: str, company_id: str, body: Any) -> tuple[int, Any]:
        if cluster_id not in {c["id"] for c in self.clusters}:
            return 404, {"detail": "no such cluster"}
        if company_id not in {c["id"] for c in self.companies}:
            return 404, {"detail": "no such company"}
        self.members[cluster_id, company_id] = body["role"]
        return 200, {"cluster_id": cluster_id, "company_id": company_id, **body}

    @staticmethod
    def _page(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"items": items, "next_cursor": None}


@pytest.fixture
def fake_registry() -> Iterator[tuple[FakeRegistry, str]]:
    fake = FakeRegistry()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.correlation_ids.add(self.headers.get("X-Correlation-ID"))
            status, answer = fake.handle(self.command, self.path, body)
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = _serve  # noqa: N815 - the names http.server looks up

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_seeding_twice_creates_everything_once(fake_registry: tuple[FakeRegistry, str]) -> None:
    fake, url = fake_registry
    lines: list[str] = []
    first = seed(url, token="a-token", progress=lines.append)
    memberships = sum(len(c.clusters) for c in DEMO_COMPANIES)
    assert (first.clusters_created, first.clusters_existing) == (10, 0)
    assert (first.companies_created, first.companies_existing) == (len(DEMO_COMPANIES), 0)
    assert first.memberships == memberships
    assert lines == [
        "clusters: 10 created, 0 already there",
        f"companies: {len(DEMO_COMPANIES)} registered, 0 already there",
        f"memberships: {memberships} (10 as animator)",
    ]

    second = seed(url, token="a-token")
    assert (second.clusters_created, second.clusters_existing) == (0, 10)
    assert (second.companies_created, second.companies_existing) == (0, len(DEMO_COMPANIES))
    assert second.cluster_ids == first.cluster_ids
    assert second.company_ids == first.company_ids
    assert len(fake.clusters) == 10
    assert len(fake.companies) == len(DEMO_COMPANIES)
    assert len(fake.members) == memberships
    assert sorted(fake.members.values()).count("animator") == 10
    assert fake.correlation_ids == {"demo-seed"}


def test_an_unexpected_answer_stops_the_seed_with_status_and_body(
    fake_registry: tuple[FakeRegistry, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, url = fake_registry
    fake.fail_with = 500
    with pytest.raises(SeedError, match=r"HTTP 500: .*bad day"):
        seed(url, token="a-token")
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--url", url])
    assert exit_info.value.code == 1
    assert "HTTP 500" in capsys.readouterr().err


def test_an_unreachable_registry_is_reported() -> None:
    with pytest.raises(SeedError, match="cannot reach the registry"):
        seed("http://127.0.0.1:9", token="a-token", timeout=2)
