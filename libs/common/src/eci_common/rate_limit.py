"""Rate limiting of writes (POST, PUT, PATCH, DELETE) per caller, with the `limits` library.

The caller is its bearer token (a hash of it: the token itself is a secret, never kept) or, with
none, its client address. Counters are fixed windows in the process's memory: each replica
counts on its own, and a restart forgets. Reads are never limited here.
"""

import hashlib
import math
import time
from typing import Final

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NAMESPACE = "eci-write"


def caller_key(scope: Scope) -> str:
    """Who is writing: `token:<sha256>` of the bearer token, else `addr:<client address>`."""
    authorization = Headers(scope=scope).get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        digest = hashlib.sha256(credentials.strip().encode()).hexdigest()[:32]
        return f"token:{digest}"
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


class WriteRateLimit:
    """Pure ASGI middleware: 429 with `Retry-After` once a caller's writes exceed the limit."""

    def __init__(self, app: ASGIApp, *, limit: str) -> None:
        self.app = app
        self.items: list[RateLimitItem] = parse_many(limit)
        self._limiter = FixedWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        key = caller_key(scope)
        for item in self.items:
            if not await self._limiter.hit(item, _NAMESPACE, key):
                stats = await self._limiter.get_window_stats(item, _NAMESPACE, key)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                response = JSONResponse(
                    {
                        "detail": f"too many writes (limit {item}); retry in {retry_after} s",
                    },
                    status_code=429,
                    headers={"Retry-After": str(retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
