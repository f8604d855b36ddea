"""CloudEvents 1.0 envelopes, carried in Kafka binary mode.

Attributes travel as `ce_*` headers, the body is the JSON payload alone, the record key is the
aggregate id. Two extensions follow a causal chain: `correlationid` (the request or journey that
started it all) and `causationid` (the event or request that directly caused this one).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eci_common.errors import MalformedEvent
from eci_common.events.base import EventPayload

SPEC_VERSION: Final = "1.0"
JSON: Final = "application/json"
HEADER_PREFIX: Final = "ce_"

P = TypeVar("P", bound=EventPayload)


class EventMetadata(BaseModel):
    """The CloudEvents context attributes of one event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    specversion: str = SPEC_VERSION
    time: datetime
    subject: str | None = None
    datacontenttype: str = JSON
    correlationid: str = Field(min_length=1)
    causationid: str = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """An event as Kafka carries it: what the outbox stores and the relay sends."""

    topic: str
    key: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Event(Generic[P]):
    """An event with its typed payload, as producers build it and consumers receive it."""

    meta: EventMetadata
    data: P

    @property
    def key(self) -> str:
        return self.data.partition_key()


def new_event(
    data: P, *, source: str, correlation_id: str | None = None, causation_id: str | None = None
) -> Event[P]:
    """A fresh event: new id, current time; an event that starts a chain correlates to itself."""
    event_id = str(uuid.uuid4())
    correlation = correlation_id or event_id
    meta = EventMetadata(
        id=event_id,
        source=source,
        type=data.event_type,
        time=datetime.now(UTC),
        subject=data.partition_key(),
        correlationid=correlation,
        causationid=causation_id or correlation,
    )
    return Event(meta=meta, data=data)


def to_record(event: Event[EventPayload]) -> KafkaRecord:
    """Binary content mode: attributes to `ce_*` headers, payload to the body."""
    headers = {
        f"{HEADER_PREFIX}{name}": value.isoformat() if isinstance(value, datetime) else str(value)
        for name, value in event.meta.model_dump(exclude={"datacontenttype"}).items()
        if value is not None
    }
    headers["content-type"] = event.meta.datacontenttype
    return KafkaRecord(
        topic=event.data.topic,
        key=event.key,
        headers=headers,
        body=event.data.model_dump_json().encode(),
    )


def read_metadata(headers: dict[str, str]) -> EventMetadata:
    """The CloudEvents attributes of a record, or `MalformedEvent` saying which is wrong."""
    attributes: dict[str, str] = {
        name.removeprefix(HEADER_PREFIX): value
        for name, value in headers.items()
        if name.startswith(HEADER_PREFIX)
    }
    attributes["datacontenttype"] = headers.get("content-type", JSON)
    try:
        meta = EventMetadata.model_validate(attributes)
    except ValidationError as exc:
        raise MalformedEvent(f"invalid CloudEvents headers: {_summary(exc)}") from exc
    if meta.specversion != SPEC_VERSION:
        raise MalformedEvent(f"unsupported CloudEvents specversion {meta.specversion!r}")
    if meta.datacontenttype != JSON:
        raise MalformedEvent(f"unsupported content type {meta.datacontenttype!r}")
    return meta


def read_payload(model: type[P], body: bytes) -> P:
    """The typed payload, or `MalformedEvent` naming the fields that failed validation."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise MalformedEvent(f"invalid {model.__name__} payload: {_summary(exc)}") from exc


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '<body>'}: {error['msg']}"
        for error in exc.errors()[:5]
    )
