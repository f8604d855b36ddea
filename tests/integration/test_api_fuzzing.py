"""Every REST API fuzzed from its own OpenAPI document with schemathesis: no input, however
hostile, from staff, a company's contact or a caller without a token, gets a server error.

Each service runs in-process with its lifespan over the real database and broker, reached
through schemathesis' ASGI transport, after a few real resources are seeded (`fuzz_targets`).
Every operation goes through schemathesis' phases: its examples, the coverage phase (boundary
and invalid values of every parameter) and `max_examples` generated cases, valid and invalid.
Path, query and body parameters sometimes take the id of a seeded resource, and every write
carries an `If-Match` (a version, a stale one, digits no integer holds, or junk). Generation is
derandomized, so CI replays the same cases. Responses are checked for 5xx, and for conformance
to the documented content type and response schemas. Status codes are not: FastAPI documents
only success and 422, not the 401/403/404/409/410/412/428 every write may answer.

The cases run per service end the terminal summary (`schemathesis: registry … cases, …`).
"""

import json
import math
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import pytest_asyncio
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from eci_common.auth import Role
from eci_common.mongo import MongoClient
from support.auth import bearer, staff
from support.endpoints import Endpoints

from .fuzz_targets import SERVICES, Seeded, create_app, preseed, seed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(300),  # each test fuzzes every operation of a service: a minute or so
    # The services' retry jitter uses `random`, from the app's thread, while Hypothesis runs.
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]

CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IF_MATCH = st.one_of(
    # The versions seeded resources go through, then what names none.
    st.sampled_from(
        ['"1"', '"2"', '"3"', '"4"', 'W/"1"', "1", "*", '"0"', '"18446744073709551616"']
    ),
    st.integers(min_value=1, max_value=6000).map(lambda digits: '"' + "9" * digits + '"'),
    # Junk that can travel in a header: latin-1, no control character, no edge whitespace.
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")).map(
        str.strip
    ),
)
SETTINGS: dict[str, Any] = {
    "derandomize": True,
    "deadline": None,
    "database": None,
    "suppress_health_check": list(hypothesis.HealthCheck),
}


@dataclass
class Tally:
    """Cases run and server errors met, per service; a pytest plugin that reports them."""

    cases: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)

    def record(self, service: str, *, server_error: bool) -> None:
        self.cases[service] += 1
        self.server_errors[service] += server_error

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        counts = ", ".join(f"{name} {self.cases[name]} cases" for name in SERVICES)
        errors = sum(self.server_errors.values())
        terminalreporter.write_line(f"schemathesis: {counts}, {errors} server errors")


TALLY = Tally()


@dataclass(frozen=True)
class Target:
    """One running service: its schema, and what was seeded in it."""

    service: str
    schema: schemathesis.BaseSchema
    seeded: Seeded


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest_asyncio.fixture
async def preseeded(service: str, run_id: str, mongo: MongoClient) -> AsyncIterator[str]:
    await preseed(service, mongo[f"t_{run_id}_{service}"])
    yield service


@pytest.fixture
def target(
    preseeded: str,
    endpoints: Endpoints,
    run_id: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Target]:
    """The app, started by loading its schema, seeded, with the hooks that steer generation;
    stopped before `run_id` drops its database."""
    if not request.config.pluginmanager.is_registered(TALLY):
        request.config.pluginmanager.register(TALLY, "api-fuzzing-tally")
    monkeypatch.setenv("HTTP_WRITE_RATE_LIMIT", "off")  # thousands of writes in seconds
    monkeypatch.setenv("HTTP_AUTH_FAILURE_LIMIT", "off")  # and hundreds of 401s
    app = create_app(preseeded, endpoints, run_id)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        seeded = seed(preseeded, schema)
        for part in ("path_parameters", "query", "body"):
            schema.hook(f"flatmap_{part}")(_drawing_existing_ids(seeded.ids, part))
        schema.hook("flatmap_headers")(_with_if_match)
        yield Target(preseeded, schema, seeded)
    finally:
        asgi.shutdown_lifespans()


NON_FINITE = (math.nan, math.inf, -math.inf)


def _drawing_existing_ids(ids: dict[str, list[str]], part: str) -> Any:
    """A hook: each generated string named like a seeded parameter may become a seeded id; now
    and then a string gets a NUL and a number becomes NaN or ±Infinity (a body holding one is
    sent as the bytes Python's `json` writes, `NaN` and `Infinity` included)."""

    def value_of(name: str, value: Any) -> st.SearchStrategy[Any]:
        usual = st.sampled_from([value, *ids[name]]) if name in ids else st.just(value)
        hostile: list[Any] = []
        if isinstance(value, str):
            hostile = [value + "\x00", "\x00"]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            hostile = list(NON_FINITE)
        if not hostile or not isinstance(value, str | int | float):
            return usual
        return st.integers(0, 7).flatmap(lambda n: st.sampled_from(hostile) if n == 0 else usual)

    def hook(context: schemathesis.HookContext, values: Any) -> Any:
        if not isinstance(values, dict):
            return st.just(values)
        drawn = st.fixed_dictionaries(
            {name: value_of(name, value) for name, value in values.items()}
        )
        return drawn.map(_as_bytes_if_non_finite) if part == "body" else drawn

    return hook


def _as_bytes_if_non_finite(body: dict[str, Any]) -> dict[str, Any] | bytes:
    """`requests` refuses to write NaN; the bytes go as they are, with the JSON media type."""
    if any(isinstance(v, float) and not math.isfinite(v) for v in body.values()):
        return json.dumps(body).encode()
    return body


def _with_if_match(context: schemathesis.HookContext, headers: Any) -> Any:
    operation = context.operation
    if operation is None or operation.method.upper() not in WRITES:
        return st.just(headers)
    return IF_MATCH.map(lambda value: {**(headers or {}), "If-Match": value})


@pytest.fixture
def api(target: Target, request: pytest.FixtureRequest) -> schemathesis.BaseSchema:
    # schemathesis 4.32's `from_fixture` reads and rewrites `Function._nodeid`, which pytest 9
    # no longer has: give it one.
    request.node._nodeid = request.node.nodeid
    return target.schema


schema = schemathesis.pytest.from_fixture("api")


def _call_and_validate(case: schemathesis.Case, target: Target, headers: dict[str, str]) -> None:
    try:
        response = case.call(headers=headers)
    except Exception:
        # In-process, an exception the app does not handle reaches the caller, not a 500.
        TALLY.record(target.service, server_error=True)
        raise
    TALLY.record(target.service, server_error=response.status_code >= 500)
    case.validate_response(response, checks=CHECKS, headers=headers)


@hypothesis.settings(max_examples=30, **SETTINGS)
@schema.parametrize()
def test_staff_get_no_server_error(case: schemathesis.Case, target: Target) -> None:
    _call_and_validate(case, target, staff())


@hypothesis.settings(max_examples=8, **SETTINGS)
@schema.parametrize()
def test_a_contact_gets_no_server_error(case: schemathesis.Case, target: Target) -> None:
    contact = bearer(Role.CONTACT, company=target.seeded.contact_company)
    _call_and_validate(case, target, contact)


@hypothesis.settings(max_examples=4, **SETTINGS)
@schema.parametrize()
def test_no_token_gets_no_server_error(case: schemathesis.Case, target: Target) -> None:
    _call_and_validate(case, target, {})


async def test_hostile_input_no_generated_case_holds_gets_4xx(client: httpx.AsyncClient) -> None:
    """What the fuzzer never sends: a lone surrogate, legal in a JSON string escape (Hypothesis
    draws no surrogates), in a value the models refuse and in a key the body guard refuses, both
    echoed back in the 422; and an If-Match with more digits than `int()` reads."""
    json_body = {"Content-Type": "application/json"}
    surrogate = b'{"legal_name": "\\ud800", "roles": ["jeweller"]}'
    refused = await client.post("/companies", content=surrogate, headers=json_body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "legal_name"]
    operator = await client.post("/companies", content=b'{"$\\udc00": 1}', headers=json_body)
    assert operator.status_code == 422, operator.text
    company = await client.post("/companies", json={"legal_name": "Cadrans", "roles": ["jeweller"]})
    huge = {"If-Match": '"' + "9" * 5000 + '"'}
    stale = await client.patch(
        f"/companies/{company.json()['id']}", json={"city": "Morteau"}, headers=huge
    )
    assert stale.status_code == 412, stale.text


async def test_null_clears_a_companys_capabilities_and_contacts(client: httpx.AsyncClient) -> None:
    """Found by the fuzzer: `null` for a list field of a PATCH was a 500; it clears the list."""
    company = await client.post(
        "/companies",
        json={
            "legal_name": "Cadrans Nuls",
            "roles": ["dial_maker"],
            "capabilities": ["dials"],
            "contacts": [{"name": "Ada", "email": "ada@example.org", "consent": True}],
        },
    )
    assert company.status_code == 201, company.text
    cleared = await client.patch(
        f"/companies/{company.json()['id']}",
        json={"capabilities": None, "contacts": None},
        headers={"If-Match": company.headers["ETag"]},
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["capabilities"] == []
    assert cleared.json()["contacts"] == []


HOSTILE = {"NaN": b"NaN", "Infinity": b"Infinity", "-Infinity": b"-Infinity", "NUL": b'"a\\u0000"'}


def _body_fields(raw: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    """The top-level properties of an operation's JSON body (`x` when it names none)."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return []
    body: dict[str, Any] = content["application/json"].get("schema", {})
    ref = body.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        body = raw["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return sorted(body.get("properties", {})) or ["x"]


def _hostile_cases(raw: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], list[Any]]]:
    """For every operation: NaN, ±Infinity and NUL in each body field, NUL in each path and
    query parameter (a made-up query parameter for an operation without any); each with the
    `loc` the 422 must name."""
    for path, methods in raw["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            names = {p["in"]: [] for p in parameters} | {"path": [], "query": []}
            for parameter in parameters:
                names[parameter["in"]].append(parameter["name"])
            filled = dict.fromkeys(names["path"], "seed")
            for name in _body_fields(raw, operation):
                for token in HOSTILE.values():
                    body = b'{"' + name.encode() + b'": ' + token + b"}"
                    yield method, path, {"path_parameters": filled, "body": body}, ["body", name]
            for name in names["path"]:
                nul = {**filled, name: "seed\x00"}
                yield method, path, {"path_parameters": nul}, ["path", name]
            for name in names["query"] or ["probe"]:
                query = {"path_parameters": filled, "query": {name: "a\x00"}}
                yield method, path, query, ["query", name]


def test_nan_infinity_and_nul_on_every_operation_get_a_422_naming_the_field(
    target: Target,
) -> None:
    """Each operation, as staff, with each hostile value in each of its fields: a 4xx (422 from
    the request guard) whose detail names that field, never a server error."""
    seen = Counter[str]()
    for method, path, parts, loc in _hostile_cases(target.schema.raw_schema):
        operation = target.schema[path][method.upper()]
        body = parts.pop("body", None)
        case = operation.Case(headers=staff(), **parts)
        extra = {"data": body, "headers": {**staff(), "Content-Type": "application/json"}}
        response = case.call(**extra) if body is not None else case.call(headers=staff())
        TALLY.record(target.service, server_error=response.status_code >= 500)
        assert response.status_code == 422, (method, path, loc, response.text)
        assert loc in [error["loc"] for error in response.json()["detail"]], (method, path)
        seen[f"{method} {path}"] += 1
    assert len(seen) == sum(len(methods) for methods in target.schema.raw_schema["paths"].values())
