"""What every REST API shares: correlation ids, domain errors as statuses, health endpoints,
Prometheus metrics."""

import re
import uuid
from typing import Annotated, Any, Protocol

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from eci_common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    NotFound,
    PreconditionRequired,
    StaleVersion,
    Unauthenticated,
)
from eci_common.json_response import SafeJSONResponse
from eci_common.metrics import metrics_router

CORRELATION_HEADER = "X-Correlation-ID"

_STATUS: dict[type[DomainError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    StaleVersion: 412,
    PreconditionRequired: 428,
}


# What a caller's correlation id may be: it goes into every log line and every event header of
# the request, so it is short and of plain characters (a UUID, a trace id, `order-42:retry`).
CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def accepted_correlation_id(value: str | None) -> str:
    """The caller's id if it has that shape, otherwise a fresh UUID (never an error: a request
    is not refused for its tracing header)."""
    if value is not None and CORRELATION_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


class CorrelationMiddleware(BaseHTTPMiddleware):
    """Binds the caller's correlation id (or a new one) to every log line and event of a request."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        correlation_id = accepted_correlation_id(request.headers.get(CORRELATION_HEADER))
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        response.headers[CORRELATION_HEADER] = correlation_id
        return response


# At most 18 digits: a version fits in 64 bits, and `int()` refuses more than 4300 digits.
_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,18})"?$')


def if_match_version(request: Request) -> int | None:
    """The version named by `If-Match`; None when absent (a use case then answers 428)."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        raise StaleVersion(f"If-Match {header!r} names no version of ours")
    return int(match.group(1))


IfMatchDep = Annotated[int | None, Depends(if_match_version)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def current_correlation_id() -> str | None:
    """The correlation id bound to the current request or event, if any."""
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value is not None else None


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422 for a request its models refuse, rendered with `SafeJSONResponse`."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return SafeJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


async def _domain_error(request: Request, exc: Exception) -> Response:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


def install_common(app: FastAPI) -> None:
    """Middleware and error mapping shared by every service's API. The last middleware added
    runs first: correlation id, then the failed-authentication limit, then the body guard. The
    write limit is a route dependency (`rate_limit.WriteLimited`), after the token's check."""
    from eci_common.rate_limit import (  # noqa: PLC0415 - kept with their only use
        FailedAuthLimit,
        TooManyRequests,
        trusted_networks,
        write_limiter,
    )
    from eci_common.request_guard import (  # noqa: PLC0415
        DISABLED,
        GuardSettings,
        PathTemplates,
        RequestGuard,
    )

    guard = GuardSettings()
    app.add_middleware(
        RequestGuard,
        max_body_bytes=guard.max_body_bytes,
        templates=PathTemplates(lambda: app.openapi().get("paths", {})),
    )
    if guard.write_rate_limit.strip().lower() != DISABLED:
        app.state.write_limiter = write_limiter(guard.write_rate_limit)
    if guard.auth_failure_limit.strip().lower() != DISABLED:
        app.add_middleware(
            FailedAuthLimit,
            limit=guard.auth_failure_limit,
            proxies=trusted_networks(guard.trusted_proxies),
        )
    app.add_middleware(CorrelationMiddleware)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(TooManyRequests, _too_many_requests)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.include_router(metrics_router())


async def _too_many_requests(request: Request, exc: Exception) -> Response:
    from eci_common.rate_limit import TooManyRequests, too_many_response  # noqa: PLC0415

    assert isinstance(exc, TooManyRequests)  # noqa: S101 - registered for this type only
    return too_many_response(exc)


class Readiness(Protocol):
    """What `/health/ready` asks: `app.state.runtime`, set in the service's lifespan."""

    async def readiness(self) -> dict[str, Any]: ...


def health_router() -> APIRouter:
    """`/health/live`: the process answers. `/health/ready`: its database and broker answer."""
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        runtime: Readiness = request.app.state.runtime
        checks = await runtime.readiness()
        ok = all(check.get("ok") for check in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not-ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    return router
