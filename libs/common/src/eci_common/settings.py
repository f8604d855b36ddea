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

    # The Kafka bootstrap servers, comma-separated host:port.
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    # Timeout of one Kafka request; the outbox lease must outlast twice it by half again.
    kafka_request_timeout_ms: int = Field(30_000, validation_alias="KAFKA_REQUEST_TIMEOUT_MS")
    # `PLAINTEXT` (no login), `SASL_PLAINTEXT` or `SASL_SSL` (SCRAM login).
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL"
    )
    # The SCRAM mechanism of the service's Kafka account.
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        "SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM"
    )
    # The service's Kafka account (docs/security.md); required with SASL.
    kafka_sasl_username: str | None = Field(None, validation_alias="KAFKA_SASL_USERNAME")
    # Its password (never logged); required with SASL.
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

    # The MongoDB connection string (FerretDB locally).
    mongodb_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias="MONGODB_URI")
    # Server-selection and connect timeout (the socket timeout is at least 10 s).
    mongodb_timeout_ms: int = Field(5_000, validation_alias="MONGODB_TIMEOUT_MS")
    # The database the service owns.
    mongodb_database: str


class LogSettings(BaseSettings):
    """Log level and rendering: JSON in production, readable lines in a terminal."""

    model_config = _COMMON

    # `DEBUG`, `INFO`, `WARNING` or `ERROR`.
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # `json`, `console`, or `auto` (console on a terminal, JSON otherwise).
    log_format: Literal["auto", "json", "console"] = Field("auto", validation_alias="LOG_FORMAT")


class ConsumerSettings(BaseSettings):
    """How a service consumes: its group, and how it retries before dead-lettering."""

    model_config = _COMMON

    # The service's Kafka consumer group.
    consumer_group: str
    # Deliveries of an event failing with a non-transient error before it is dead-lettered.
    consumer_max_attempts: int = Field(5, ge=1)
    # First retry delay of a failing event, doubled on each retry.
    consumer_backoff_initial_s: float = Field(0.2, gt=0)
    # Longest retry delay (transient errors are retried at this pace without limit).
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
    # How long a group remembers a handled event (`processed_events`): longer than anything that
    # redelivers one (relay republications, redelivered batches, dead letters replayed within
    # the dead-letter topics' 30 days). Replaying a topic from the beginning under the same
    # group re-applies events older than this: see docs/operations.md.
    consumer_processed_retention_s: float = Field(45 * 86_400, gt=0)
    # How often the service deletes expired records where the database has no TTL index.
    consumer_processed_prune_interval_s: float = Field(3_600, gt=0)


def delivery_bound_s(request_timeout_ms: int) -> float:
    """The longest aiokafka takes to settle a record from its `send` when no broker takes it:
    its metadata wait, then its queue's expiry without a leader, each a request timeout."""
    return 2 * request_timeout_ms / 1000


def check_lease(lease_s: float, delivery_bound: float) -> None:
    """Refuses an outbox lease that does not outlast the longest delivery by half again: the
    relay queues records only while its last renewal is younger than the difference, so that
    every record it queued is settled before another relay may take the lease over
    (`eci_common.outbox_lease`)."""
    if lease_s < 1.5 * delivery_bound:
        raise ValueError(
            f"<SERVICE>_OUTBOX_LEASE_S={lease_s:g} is too short: a record may take up to "
            f"{delivery_bound:g} s to be delivered or failed (twice KAFKA_REQUEST_TIMEOUT_MS), "
            f"and the lease must exceed that by half again: set <SERVICE>_OUTBOX_LEASE_S to at "
            f"least {1.5 * delivery_bound:g}, or lower KAFKA_REQUEST_TIMEOUT_MS"
        )


class OutboxSettings(BaseSettings):
    """How often the outbox relay looks for unpublished events, how many documents it claims in
    one round, and how long a claim lasts without renewal (judged by the other relay's monotonic
    clock; at least 1.5 times `delivery_bound_s`, checked at start-up)."""

    model_config = _COMMON

    # How often the relay looks for pending events (an idle relay backs off to 5 s).
    outbox_poll_interval_s: float = Field(0.5, gt=0)
    # 1.5 x the delivery bound of the default 30 s request timeout. A relay that dies leaves its
    # documents to another after this long; the one that lives renews its leases.
    outbox_lease_s: float = Field(90.0, gt=0)
    # Documents claimed, published and released together. A round holds their document locks
    # during its claim and its release, and its leases until every acknowledgement is in.
    outbox_batch_size: int = Field(100, ge=1, le=1000)


class HttpSettings(BaseSettings):
    """Where the service's REST API listens."""

    model_config = _COMMON

    # The address the REST API binds to (compose sets `0.0.0.0`).
    http_host: str = "127.0.0.1"
    # The port of the REST API.
    http_port: int
    # Time allowed for in-flight work after SIGTERM (the relay gets half).
    shutdown_timeout_s: float = Field(10.0, gt=0)
    # How often the service observes its database, broker, outbox backlog and consumer lag for
    # `/health/ready` and `/metrics`, which serve the last observation.
    health_refresh_s: float = Field(5.0, gt=0)


class ReplicaFenceSettings(BaseSettings):
    """One replica per service on FerretDB (see `eci_common.replica_fence`): how long a silent
    holder of the fence blocks its successor, and the switch that turns the fence off."""

    model_config = _COMMON

    # A replica killed with -9 blocks its successor for at most this plus a quarter of it.
    replica_fence_lease_s: float = Field(10.0, gt=0, le=300)
    # UNSAFE on FerretDB: two replicas lose each other's writes there. For tests of the claim
    # primitives only (several processes of one service on one FerretDB database).
    unsafe_allow_replicas_on_ferretdb: bool = False


class ServiceSettings(
    ReplicaFenceSettings,
    KafkaSettings,
    MongoSettings,
    LogSettings,
    ConsumerSettings,
    OutboxSettings,
    HttpSettings,
    AuthSettings,
):
    """Everything a service process needs; each service subclasses it with its env prefix."""

    @model_validator(mode="after")
    def _lease_outlasts_delivery(self) -> Self:
        check_lease(self.outbox_lease_s, delivery_bound_s(self.kafka_request_timeout_ms))
        return self
