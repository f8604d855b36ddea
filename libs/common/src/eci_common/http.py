"""What every REST API shares: correlation ids, domain errors as statuses, health endpoints,
Prometheus metrics."""

import re
import uuid
from typing import Annotated, Any, Protocol

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from eci_common.errors import (
    Conflict,
    DomainError,
    Gone,
    NotFound,
    PreconditionRequired,
    StaleVersion,
)
from eci_common.metrics import metrics_router

CORRELATION_HEADER = "X-Correlation-ID"

_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    StaleVersion: 412,
    PreconditionRequired: 428,
}


class CorrelationMiddleware(BaseHTTPMiddleware):
    """Binds the caller's correlation id (or a new one) to every log line and event of a request."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        response.headers[CORRELATION_HEADER] = correlation_id
        return response


_ETAG = re.compile(r'^(?:W/)?"?(\d+)"?$')


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


async def _domain_error(request: Request, exc: Exception) -> Response:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    return JSONResponse({"detail": str(exc)}, status_code=status)


def install_common(app: FastAPI) -> None:
    """Middleware and error mapping shared by every service's API."""
    app.add_middleware(CorrelationMiddleware)
    app.add_exception_handler(DomainError, _domain_error)
    app.include_router(metrics_router())


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
