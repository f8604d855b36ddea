"""Rate limits, with the `limits` library: writes per verified subject, failed authentications
per client address.

Writes (POST, PUT, PATCH, DELETE) are counted by `limit_writes`, a route dependency that runs
after the token is verified (FastAPI resolves `current_principal` once per request, so it is
the same verification): one subject has one budget however many tokens it holds, and a token
that does not verify never reaches it. Such a token gets a 401, and `FailedAuthLimit` counts
every 401 against the client address: past its limit, that address gets 429 before its token
is even read. The client address is the peer's, or, when the peer is a configured trusted proxy,
the last address of `X-Forwarded-For` that is not one (nobody else can choose it).

Counters are fixed windows in the process's memory: each replica counts on its own, and a
restart forgets. Reads are never limited as writes.
"""

import ipaddress
import math
import time
from collections.abc import Iterable
from typing import Final

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eci_common.auth import PrincipalDep
from eci_common.errors import DomainError

WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WRITES = "eci-write"
_FAILED_AUTH = "eci-failed-auth"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TooManyRequests(DomainError):
    """429: the caller spent its budget; `retry_after` seconds until the window resets."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def trusted_networks(value: str) -> tuple[Network, ...]:
    """`HTTP_TRUSTED_PROXIES`: comma-separated addresses or CIDR networks (ValueError if not)."""
    return tuple(ipaddress.ip_network(part.strip()) for part in value.split(",") if part.strip())


def _is_trusted(address: str, proxies: Iterable[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def client_address(scope: Scope, proxies: tuple[Network, ...]) -> str:
    """The peer's address; behind trusted proxies, the nearest `X-Forwarded-For` hop that is not
    one of them. A forwarded header from any other peer is ignored: the caller wrote it."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not proxies or not _is_trusted(peer, proxies):
        return peer
    forwarded = ",".join(Headers(scope=scope).getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


class Limiter:
    """Fixed-window counters for one purpose (`namespace`), with the items of a limit string."""

    def __init__(self, limit: str, namespace: str) -> None:
        self.items: list[RateLimitItem] = parse_many(limit)
        self.namespace = namespace
        self._limiter = FixedWindowRateLimiter(MemoryStorage())

    async def hit(self, key: str) -> TooManyRequests | None:
        """Counts one; the refusal if a window is already full."""
        for item in self.items:
            if not await self._limiter.hit(item, self.namespace, key):
                return await self._refusal(item, key)
        return None

    async def exhausted(self, key: str) -> TooManyRequests | None:
        """The refusal if a window is full, without counting."""
        for item in self.items:
            if not await self._limiter.test(item, self.namespace, key):
                return await self._refusal(item, key)
        return None

    async def _refusal(self, item: RateLimitItem, key: str) -> TooManyRequests:
        stats = await self._limiter.get_window_stats(item, self.namespace, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        what = "writes" if self.namespace == _WRITES else "failed authentications"
        return TooManyRequests(
            f"too many {what} (limit {item}); retry in {retry_after} s", retry_after
        )


def write_limiter(limit: str) -> Limiter:
    return Limiter(limit, _WRITES)


async def limit_writes(request: Request, principal: PrincipalDep) -> None:
    """A route dependency: counts a write against its verified subject (429 past the limit).
    Without `app.state.write_limiter` (limit set to off), writes are not limited."""
    limiter: Limiter | None = getattr(request.app.state, "write_limiter", None)
    if limiter is None or request.method not in WRITE_METHODS:
        return
    refused = await limiter.hit(f"subject:{principal.role.value}:{principal.subject}")
    if refused is not None:
        raise refused


WriteLimited = Depends(limit_writes)


def too_many_response(refused: TooManyRequests) -> JSONResponse:
    return JSONResponse(
        {"detail": str(refused)},
        status_code=429,
        headers={"Retry-After": str(refused.retry_after)},
    )


class FailedAuthLimit:
    """Pure ASGI middleware: counts the 401 answers per client address; an address past the
    limit gets 429 with `Retry-After`, whatever it sends, until its window resets."""

    def __init__(self, app: ASGIApp, *, limit: str, proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.limiter = Limiter(limit, _FAILED_AUTH)
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = f"addr:{client_address(scope, self.proxies)}"
        refused = await self.limiter.exhausted(key)
        if refused is not None:
            await too_many_response(refused)(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                await self.limiter.hit(key)
            await send(message)

        await self.app(scope, receive, counting)
