"""The base of every event payload: frozen, versioned in its type, tolerant of unknown fields."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventPayload(BaseModel):
    """The `data` of one CloudEvent. Subclasses name their type (with a version) and topic.

    Consumers ignore fields they do not know, so adding an optional field is not a breaking
    change; removing or retyping one needs a new version of the type.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    topic: ClassVar[str]

    def partition_key(self) -> str:
        """The aggregate id: the record key, so that order holds per aggregate."""
        raise NotImplementedError
