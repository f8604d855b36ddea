"""What the registry's routes share: the unit of work per request (ETags and If-Match come
from `eci_common.http`)."""

from typing import Annotated

from fastapi import Depends, Request

from eci_common.http import current_correlation_id
from eci_registry.service import Unit


def _unit(request: Request) -> Unit:
    state = request.app.state.registry
    return Unit(
        companies=state.companies,
        clusters=state.clusters,
        wake_outbox=state.relay.wake,
        correlation_id=current_correlation_id(),
    )


UnitDep = Annotated[Unit, Depends(_unit)]
