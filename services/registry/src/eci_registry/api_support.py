"""What the registry's routes share: the unit of work per request, ETags and If-Match."""

import re
from typing import Annotated

from fastapi import Depends, Request, Response

from eci_common.errors import StaleVersion
from eci_common.http import current_correlation_id
from eci_registry.service import Unit

_ETAG = re.compile(r'^(?:W/)?"?(\d+)"?$')


def _unit(request: Request) -> Unit:
    state = request.app.state.registry
    return Unit(
        companies=state.companies,
        clusters=state.clusters,
        wake_outbox=state.relay.wake,
        correlation_id=current_correlation_id(),
    )


UnitDep = Annotated[Unit, Depends(_unit)]


def expected_version(request: Request) -> int | None:
    """The version named by `If-Match`; None when absent (the use case then answers 428)."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        raise StaleVersion(f"If-Match {header!r} names no version of ours")
    return int(match.group(1))


IfMatchDep = Annotated[int | None, Depends(expected_version)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'
