"""The catalog: every event type we publish, mapped to its payload model and its topic."""

from eci_common.errors import UnknownEventType
from eci_common.events.base import EventPayload
from eci_common.events.registry import CompanyRegisteredV1

EVENT_MODELS: tuple[type[EventPayload], ...] = (CompanyRegisteredV1,)

_BY_TYPE: dict[str, type[EventPayload]] = {model.event_type: model for model in EVENT_MODELS}


def model_for(event_type: str) -> type[EventPayload]:
    """The payload model of a type, or `UnknownEventType` (a permanent error)."""
    try:
        return _BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(f"no contract for event type {event_type!r}") from None


def is_known(event_type: str) -> bool:
    """Whether any contract describes this type and version."""
    return event_type in _BY_TYPE
