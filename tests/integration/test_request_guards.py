"""Every REST API bounds its request bodies (413), refuses MongoDB operator keys in JSON bodies
(422, naming the path) and limits each caller's writes (429 with Retry-After); reads are not
limited and ordinary requests pass. Shown on the registry, in-process over the real database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from eci_common.auth import Role
from eci_common.mongo import MongoClient
from eci_registry.main import create_app
from support.auth import bearer, staff, token
from support.endpoints import Endpoints

from .conftest import registry_settings

pytestmark = pytest.mark.integration

VALID = {
    "legal_name": "Garde-temps du Saugeais",
    "city": "Morteau",
    "roles": ["watch_brand"],
    "capabilities": ["movements"],
}


@asynccontextmanager
async def registry(endpoints: Endpoints, run_id: str) -> AsyncIterator[httpx.AsyncClient]:
    """The registry app as the environment configures it now, with its lifespan."""
    app = create_app(registry_settings(endpoints, f"t_{run_id}_registry"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            yield client


async def test_a_body_over_the_limit_is_refused_with_413_declared_or_streamed(
    endpoints: Endpoints, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_MAX_BODY_BYTES", "4096")
    async with registry(endpoints, run_id) as client:
        padded = {**VALID, "description": "x" * 5000}
        declared = await client.post(
            "/companies", json=padded, headers={**staff(), "X-Correlation-ID": "big-1"}
        )
        assert declared.status_code == 413, declared.text
        assert declared.json() == {"detail": "the request body exceeds 4096 bytes"}
        assert declared.headers["X-Correlation-ID"] == "big-1"

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"legal_name": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}'

        streamed = await client.post(
            "/companies",
            content=chunks(),
            headers={**staff(), "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413, streamed.text
        assert "content-length" not in streamed.request.headers  # chunked: counted, not declared

        small = await client.post("/companies", json=VALID, headers=staff())
        assert small.status_code == 201, small.text


async def test_operator_keys_are_refused_with_422_naming_their_path(
    client: httpx.AsyncClient, mongo: MongoClient, run_id: str
) -> None:
    body = {
        **VALID,
        "contacts": [{"name": "Anne", "email": "anne@saugeais.example", "$where": "sleep(1)"}],
        "website": {"$ne": None},
        "a.b": 1,
    }
    response = await client.post("/companies", json=body, headers=staff())
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [
        ["body", "a.b"],
        ["body", "contacts", 0, "$where"],
        ["body", "website", "$ne"],
    ]
    assert {error["type"] for error in errors} == {"operator_key"}
    assert all(error["msg"] for error in errors)

    # A duplicate key is seen too, although JSON parsers keep only the last one.
    duplicated = b'{"legal_name": "x", "city": {"$gt": ""}, "city": "Morteau"}'
    response = await client.post(
        "/companies", content=duplicated, headers={**staff(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "city", "$gt"]

    # Nothing reached the database; values (not keys) with `$` or `.` are ordinary data.
    assert await mongo[f"t_{run_id}_registry"]["companies"].count_documents({}) == 0
    ordinary = {**VALID, "legal_name": "$ociété.com", "city": "St.-Imier"}
    accepted = await client.post("/companies", json=ordinary, headers=staff())
    assert accepted.status_code == 201, accepted.text


async def test_invalid_json_is_left_to_fastapi(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/companies",
        content=b'{"legal_name": ',
        headers={**staff(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "json_invalid"


async def test_writes_over_the_rate_limit_get_429_with_retry_after_and_reads_do_not(
    endpoints: Endpoints, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_WRITE_RATE_LIMIT", "3/minute")
    caller = staff()
    async with registry(endpoints, run_id) as client:
        for index in range(3):
            allowed = await client.post(
                "/companies", json={**VALID, "legal_name": f"Atelier {index}"}, headers=caller
            )
            assert allowed.status_code == 201, allowed.text

        refused = await client.post(
            "/companies", json=VALID, headers={**caller, "X-Correlation-ID": "busy-1"}
        )
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "too many writes" in refused.json()["detail"]
        assert refused.headers["X-Correlation-ID"] == "busy-1"
        # Every write method counts, not POST alone.
        patched = await client.patch("/companies/any", json={"city": "Morteau"}, headers=caller)
        assert patched.status_code == 429

        for _ in range(10):
            read = await client.get("/companies", headers=caller)
            assert read.status_code == 200, read.text

        # A new token for the same subject shares its budget; another subject has its own.
        same_subject = await client.post(
            "/companies", json={**VALID, "legal_name": "Autre"}, headers=bearer(Role.STAFF)
        )
        assert same_subject.status_code == 429, same_subject.text
        other = await client.post(
            "/companies",
            json={**VALID, "legal_name": "Autre"},
            headers={"Authorization": f"Bearer {token(Role.STAFF, subject='other-admin')}"},
        )
        assert other.status_code == 201, other.text


async def test_unverified_tokens_get_no_write_budget_and_failures_are_limited_per_address(
    endpoints: Endpoints, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random tokens are 401s counted against the client address (429 past the limit), and the
    address a caller writes in X-Forwarded-For is ignored unless its peer is a trusted proxy."""
    monkeypatch.setenv("HTTP_WRITE_RATE_LIMIT", "100/minute")
    monkeypatch.setenv("HTTP_AUTH_FAILURE_LIMIT", "5/minute")
    async with registry(endpoints, run_id) as client:
        statuses = [
            (
                await client.post(
                    "/companies",
                    json=VALID,
                    headers={
                        "Authorization": f"Bearer random-{n}",
                        "X-Forwarded-For": f"198.51.100.{n}",
                    },
                )
            ).status_code
            for n in range(7)
        ]
        assert statuses == [401] * 5 + [429] * 2
        # The address is refused, even with a good token, until its window ends.
        refused = await client.get("/companies", headers=staff())
        assert refused.status_code == 429, refused.text
        assert "failed authentications" in refused.json()["detail"]
