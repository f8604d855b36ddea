"""A caller's X-Correlation-ID reaches logs and event headers only if it is short and plain;
otherwise the request gets a fresh one (and answers with it), never an error."""

import uuid

import httpx
import pytest
from fastapi import FastAPI

from eci_common.http import CorrelationMiddleware, current_correlation_id


def _client() -> httpx.AsyncClient:
    app = FastAPI()

    @app.get("/seen")
    async def seen() -> dict[str, str | None]:
        return {"bound": current_correlation_id()}  # what logs and new events carry

    app.add_middleware(CorrelationMiddleware)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("kept", ["order-42:retry", "4bf92f3577b34da6a3ce929d0e0e4736", "a" * 128])
async def test_a_plain_short_correlation_id_is_kept(kept: str) -> None:
    async with _client() as client:
        response = await client.get("/seen", headers={"X-Correlation-ID": kept})
    assert response.json()["bound"] == kept
    assert response.headers["X-Correlation-ID"] == kept


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 129,
        "x" * 8000,
        "id with spaces",
        "\x1b[31mred",
        '{"event": "forged"}',
        "line\nbreak",
        "trailing-newline\n",
        "-starts-with-a-dash",
        "é",
    ],
)
async def test_any_other_correlation_id_is_replaced_by_a_fresh_one(hostile: str) -> None:
    async with _client() as client:
        request = client.build_request("GET", "/seen")
        request.headers["X-Correlation-ID"] = hostile.encode("utf-8").decode("latin-1")
        response = await client.send(request)
    bound = response.json()["bound"]
    assert bound != hostile
    assert uuid.UUID(bound)
    assert response.headers["X-Correlation-ID"] == bound
