"""Projects settings: the shared mixins plus this service's defaults, prefixed `PROJECTS_`."""

from pydantic_settings import SettingsConfigDict

from eci_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Read from the environment; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="PROJECTS_", populate_by_name=True, extra="ignore", frozen=True
    )

    http_port: int = 8002
    mongodb_database: str = "eci_projects"
    consumer_group: str = "eci-projects"
