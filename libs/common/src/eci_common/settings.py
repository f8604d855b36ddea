"""Settings mixins, composed by each service's `Settings` class.

Shared infrastructure settings (Kafka, MongoDB, logging) are read from unprefixed environment
variables so that one `.env` serves every service; what is specific to a service (its port, its
database, its consumer group) is read with the service's prefix, such as `REGISTRY_HTTP_PORT`.
"""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_COMMON = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class KafkaSettings(BaseSettings):
    """Where the Kafka cluster is and how hard to try before giving up on a request."""

    model_config = _COMMON

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_request_timeout_ms: int = Field(30_000, validation_alias="KAFKA_REQUEST_TIMEOUT_MS")


class MongoSettings(BaseSettings):
    """Where the MongoDB server is; each service names its own database."""

    model_config = _COMMON

    mongodb_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias="MONGODB_URI")
    mongodb_timeout_ms: int = Field(5_000, validation_alias="MONGODB_TIMEOUT_MS")
    mongodb_database: str


class LogSettings(BaseSettings):
    """Log level and rendering: JSON in production, readable lines in a terminal."""

    model_config = _COMMON

    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["auto", "json", "console"] = Field("auto", validation_alias="LOG_FORMAT")


class ConsumerSettings(BaseSettings):
    """How a service consumes: its group, and how it retries before dead-lettering."""

    model_config = _COMMON

    consumer_group: str
    consumer_max_attempts: int = Field(5, ge=1)
    consumer_backoff_initial_s: float = Field(0.2, gt=0)
    consumer_backoff_max_s: float = Field(10.0, gt=0)


class OutboxSettings(BaseSettings):
    """How often the outbox relay looks for unpublished events, and how long it holds a claim."""

    model_config = _COMMON

    outbox_poll_interval_s: float = Field(0.5, gt=0)
    outbox_lease_s: float = Field(30.0, gt=0)


class HttpSettings(BaseSettings):
    """Where the service's REST API listens."""

    model_config = _COMMON

    http_host: str = "127.0.0.1"
    http_port: int
    shutdown_timeout_s: float = Field(10.0, gt=0)


class ServiceSettings(
    KafkaSettings, MongoSettings, LogSettings, ConsumerSettings, OutboxSettings, HttpSettings
):
    """Everything a service process needs; each service subclasses it with its env prefix."""
