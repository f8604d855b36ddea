"""Settings mixins, composed by each service's `Settings` class.

Shared infrastructure settings (Kafka, MongoDB, logging) are read from unprefixed environment
variables so that one `.env` serves every service; what is specific to a service (its port, its
database, its consumer group) is read with the service's prefix, such as `REGISTRY_HTTP_PORT`.
"""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eci_common.auth import AuthSettings

_COMMON = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class KafkaSettings(BaseSettings):
    """Where the Kafka cluster is, which account this process uses on it, and how hard to try
    before giving up on a request.

    `PLAINTEXT` (the default) sends no credentials; `SASL_PLAINTEXT` and `SASL_SSL` log in with
    SCRAM as `KAFKA_SASL_USERNAME`, and then both the username and the password are required.
    The password is a `SecretStr`: it never appears in a repr or a log line, and validation
    errors leave out the input values, where it would otherwise be shown in clear.
    """

    model_config = SettingsConfigDict(**_COMMON, hide_input_in_errors=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_request_timeout_ms: int = Field(30_000, validation_alias="KAFKA_REQUEST_TIMEOUT_MS")
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        "SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str | None = Field(None, validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, validation_alias="KAFKA_SASL_PASSWORD")
    # With SASL_SSL: the CA bundle that signed the broker's certificate (the system's otherwise).
    kafka_ssl_cafile: str | None = Field(None, validation_alias="KAFKA_SSL_CAFILE")
    # How often the producer of a compacted topic appends a marker to each of its partitions, so
    # that an idle partition's segments roll too (eci_common.segment_roll, docs/operations.md).
    kafka_segment_roll_interval_s: float = Field(
        600, gt=0, validation_alias="KAFKA_SEGMENT_ROLL_INTERVAL_S"
    )

    @model_validator(mode="after")
    def _sasl_needs_an_account(self) -> Self:
        if self.kafka_security_protocol == "PLAINTEXT":
            return self
        missing = [
            name
            for name, value in (
                ("KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                (
                    "KAFKA_SASL_PASSWORD",
                    self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value(),
                ),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} logs in with SASL "
                f"({self.kafka_sasl_mechanism}): set {' and '.join(missing)}"
            )
        return self


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
    # Records above this size (body and headers) are dead-lettered unread: no contract of ours
    # comes near it, and parsing one costs memory and time.
    consumer_max_record_bytes: int = Field(256 * 1024, gt=0)
    # Records read, handled in order and committed together: their idempotency records are
    # written with one insert and their offsets with one commit, after the last effect.
    consumer_batch_max_records: int = Field(100, ge=1, le=10_000)
    # How long a read waits for a first record; an empty read then pauses as long again, so an
    # idle consumer adds up to twice this to the latency of the next record.
    consumer_batch_wait_ms: int = Field(10, ge=1, le=5_000)


class OutboxSettings(BaseSettings):
    """How often the outbox relay looks for unpublished events, how many documents it claims in
    one round, and how long it holds a claim."""

    model_config = _COMMON

    outbox_poll_interval_s: float = Field(0.5, gt=0)
    outbox_lease_s: float = Field(30.0, gt=0)
    # Documents claimed, published and released together. A round holds their document locks
    # during its claim and its release, and its leases until every acknowledgement is in.
    outbox_batch_size: int = Field(100, ge=1, le=1000)


class HttpSettings(BaseSettings):
    """Where the service's REST API listens."""

    model_config = _COMMON

    http_host: str = "127.0.0.1"
    http_port: int
    shutdown_timeout_s: float = Field(10.0, gt=0)


class ServiceSettings(
    KafkaSettings,
    MongoSettings,
    LogSettings,
    ConsumerSettings,
    OutboxSettings,
    HttpSettings,
    AuthSettings,
):
    """Everything a service process needs; each service subclasses it with its env prefix."""
