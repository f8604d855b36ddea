"""Registry settings: the shared mixins plus this service's defaults, prefixed `REGISTRY_`."""

from pydantic_settings import SettingsConfigDict

from eci_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Read from the environment; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="REGISTRY_", populate_by_name=True, extra="ignore", frozen=True
    )

    http_port: int = 8001
    mongodb_database: str = "eci_registry"
    consumer_group: str = "eci-registry"
