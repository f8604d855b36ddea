"""Notifications settings: shared mixins plus defaults, prefixed `NOTIFICATIONS_`."""

from pydantic_settings import SettingsConfigDict

from eci_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Read from the environment; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATIONS_", populate_by_name=True, extra="ignore", frozen=True
    )

    http_port: int = 8003
    mongodb_database: str = "eci_notifications"
    consumer_group: str = "eci-notifications"
