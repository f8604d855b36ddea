"""NaN, Infinity and NUL refused by the request guard with a 422 naming the field, on a bare app
(no database, no broker)."""

import httpx
from fastapi import FastAPI

from eci_common.http import SafeJSONResponse
from eci_common.request_guard import PathTemplates, RequestGuard


def _client() -> httpx.AsyncClient:
    app = FastAPI()

    @app.post("/things/{thing_id}")
    async def echo(thing_id: str, body: dict[str, object]) -> dict[str, object]:
        return body

    templates = PathTemplates(lambda: app.openapi()["paths"])
    app.add_middleware(RequestGuard, max_body_bytes=100_000, templates=templates)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_non_finite_numbers_and_nul_are_refused_naming_the_field() -> None:
    json_type = {"Content-Type": "application/json"}
    async with _client() as client:
        body = b'{"a": NaN, "b": [1, Infinity], "c": {"d": -Infinity}, "e": 1e400, "f": "x\\u0000"}'
        response = await client.post("/things/t", content=body, headers=json_type)
        assert response.status_code == 422, response.text
        assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [
            (["body", "a"], "finite_number"),
            (["body", "b", 1], "finite_number"),
            (["body", "c", "d"], "finite_number"),
            (["body", "e"], "finite_number"),
            (["body", "f"], "nul_character"),
        ]
        key = await client.post("/things/t", content=b'{"k\\u0000": 1}', headers=json_type)
        assert key.json()["detail"][0]["loc"] == ["body", "k\x00"]
        path = await client.post("/things/t%00", json={})
        assert path.status_code == 422
        assert path.json()["detail"][0]["loc"] == ["path", "thing_id"]
        query = await client.post("/things/t?q=%00", json={})
        assert query.json()["detail"][0]["loc"] == ["query", "q"]
        ordinary = await client.post("/things/t", json={"n": 1.5, "s": "ok"})
        assert ordinary.json() == {"n": 1.5, "s": "ok"}


def test_an_error_echoing_a_non_finite_number_still_renders() -> None:
    rendered = SafeJSONResponse({"detail": [{"input": float("nan")}]}).body
    assert rendered == b'{"detail":[{"input":"nan"}]}'
