"""The body guard on a bare app (no database, no broker); the rate limits: test_rate_limits.py."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from eci_common.request_guard import GuardSettings, RequestGuard


def _app(*, max_body_bytes: int = 100_000) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(body: dict[str, object]) -> dict[str, object]:
        return body

    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_body_nested_too_deeply_for_the_parser_is_refused_not_crashed() -> None:
    async with _client(_app()) as client:
        deep = b"[" * 40_000 + b"]" * 40_000
        response = await client.post("/echo", content=deep)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_depth"


async def test_operator_keys_inside_arrays_of_arrays_are_found() -> None:
    async with _client(_app()) as client:
        body = {"a": [[{"ok": 1}, {"x": {"$in": [1]}}]], "b": {"c.d": 1}}
        response = await client.post("/echo", json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [
        ["body", "a", 0, 1, "x", "$in"],
        ["body", "b", "c.d"],
    ]


async def test_the_replayed_body_reaches_the_route_unchanged() -> None:
    async with _client(_app()) as client:
        response = await client.post("/echo", json={"name": "$ociété.fr", "n": [1, 2]})
    assert response.status_code == 200
    assert response.json() == {"name": "$ociété.fr", "n": [1, 2]}


def test_settings_refuse_an_unreadable_limit_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_WRITE_RATE_LIMIT", "lots")
    with pytest.raises(ValidationError):
        GuardSettings()
    monkeypatch.setenv("HTTP_WRITE_RATE_LIMIT", "10/second;100/minute")
    monkeypatch.setenv("HTTP_MAX_BODY_BYTES", "2048")
    settings = GuardSettings()
    assert (settings.max_body_bytes, settings.write_rate_limit) == (2048, "10/second;100/minute")
