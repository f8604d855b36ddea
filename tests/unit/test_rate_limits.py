"""The client address behind trusted proxies only, and the failed-authentication limit per
address, on a bare app (no database, no broker)."""

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from eci_common.rate_limit import FailedAuthLimit, client_address, trusted_networks

PROXIES = trusted_networks("10.0.0.0/8, 192.0.2.1")


def _scope(peer: str, forwarded: str | None = None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 4711), "headers": headers}


def test_x_forwarded_for_is_read_only_from_a_trusted_proxy() -> None:
    # A caller that writes the header itself is still its own peer address.
    assert client_address(_scope("203.0.113.9", "198.51.100.1"), PROXIES) == "203.0.113.9"
    assert client_address(_scope("203.0.113.9", "198.51.100.1"), ()) == "203.0.113.9"
    # Behind the proxy: the nearest hop that is not a proxy, not a value the caller prepended.
    forwarded = "1.2.3.4, 198.51.100.1, 10.1.1.1"
    assert client_address(_scope("10.0.0.5", forwarded), PROXIES) == "198.51.100.1"
    assert client_address(_scope("192.0.2.1", "198.51.100.7"), PROXIES) == "198.51.100.7"
    assert client_address(_scope("10.0.0.5"), PROXIES) == "10.0.0.5"


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/guarded")
    async def guarded(token: str = "") -> JSONResponse:
        return JSONResponse({}, status_code=200 if token == "good" else 401)

    app.add_middleware(FailedAuthLimit, limit="3/minute", proxies=PROXIES)
    return app


async def test_failed_authentications_are_limited_per_client_address() -> None:
    app = _app()

    def client(peer: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(peer, 4711))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async with client("203.0.113.9") as attacker, client("10.0.0.5") as proxy:
        # Each random token is one more failure of the same address, not a fresh budget.
        failures = [
            (await attacker.get("/guarded", params={"token": f"random-{n}"})).status_code
            for n in range(5)
        ]
        assert failures == [401, 401, 401, 429, 429]
        refused = await attacker.get("/guarded", params={"token": "good"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Spoofing X-Forwarded-For from an untrusted peer changes nothing.
        spoofed = await attacker.get("/guarded", headers={"X-Forwarded-For": "198.51.100.3"})
        assert spoofed.status_code == 429
        # Behind the trusted proxy, each forwarded client counts on its own.
        other = {"X-Forwarded-For": "198.51.100.3"}
        assert (
            await proxy.get("/guarded", params={"token": "good"}, headers=other)
        ).status_code == 200
        for _ in range(3):
            await proxy.get("/guarded", headers={"X-Forwarded-For": "198.51.100.4"})
        assert (await proxy.get("/guarded", headers=other)).status_code == 401
