"""Events published by the registry service (companies, clusters and their members)."""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from eci_common import topics
from eci_common.events.base import EventPayload

EVENT_TYPE_PREFIX = "fr.horlogerie.eci.registry"


class CompanyRegisteredV1(EventPayload):
    """A company joined the Espace Collaboratif d'Innovation's registry."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.company.registered.v1"
    topic: ClassVar[str] = topics.REGISTRY_COMPANIES

    company_id: str = Field(description="Registry id of the company (the record key).")
    version: int = Field(ge=1, description="Version of the company after this change.")
    legal_name: str
    siren: str | None = Field(None, description="French SIREN, absent for foreign companies.")
    country: str = Field(description="ISO 3166-1 alpha-2 country code.")
    region: str | None = None
    city: str | None = None
    roles: list[str] = Field(default_factory=list, description="Roles in the value chain.")
    capabilities: list[str] = Field(default_factory=list, description="Capability codes.")
    registered_at: datetime

    def partition_key(self) -> str:
        return self.company_id
