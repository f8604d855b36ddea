"""Notifications settings: shared mixins plus defaults, prefixed `NOTIFICATIONS_`."""

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from eci_common.settings import ServiceSettings
from eci_notifications.webhook_targets import WebhookTargets


class Settings(ServiceSettings):
    """Read from the environment; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATIONS_", populate_by_name=True, extra="ignore", frozen=True
    )

    http_port: int = 8003
    mongodb_database: str = "eci_notifications"
    consumer_group: str = "eci-notifications"

    # E-mail: a plain SMTP relay by default (the one of the host, or a test server).
    smtp_host: str = "127.0.0.1"
    # The SMTP server's port.
    smtp_port: int = 25
    # The `From` of every e-mail.
    smtp_sender: str = "ECI France Horlogerie <notifications@eci.example>"
    # STARTTLS, verifying the server's certificate and host name.
    smtp_starttls: bool = False
    # SMTP login (with the password; only inside TLS: without STARTTLS the service refuses to
    # start).
    smtp_username: str | None = None
    # Its password (never logged).
    smtp_password: SecretStr | None = None
    # Timeout of one SMTP conversation.
    smtp_timeout_s: float = Field(10.0, gt=0)
    # A private CA (PEM) the SMTP server's certificate must chain to, instead of the system's.
    smtp_ca_file: str | None = None

    @model_validator(mode="after")
    def _no_smtp_login_in_clear(self) -> Self:
        """Fails at start-up, naming the settings, rather than sending a password in clear."""
        if (self.smtp_username or self.smtp_password) and not self.smtp_starttls:
            raise ValueError(
                "NOTIFICATIONS_SMTP_USERNAME/NOTIFICATIONS_SMTP_PASSWORD need "
                "NOTIFICATIONS_SMTP_STARTTLS=true: the SMTP login is never sent in clear"
            )
        return self

    # Delivery worker: reads pending e-mails and webhook calls from the database.
    delivery_poll_interval_s: float = Field(1.0, gt=0)
    # Attempts of an e-mail or webhook call before it is `failed`.
    delivery_max_attempts: int = Field(6, ge=1)
    # First retry delay of a delivery, doubled on each retry.
    delivery_backoff_initial_s: float = Field(30.0, gt=0)
    # Longest retry delay of a delivery.
    delivery_backoff_max_s: float = Field(3600.0, gt=0)
    # How long a replica's claim on one attempt (or one digest) lasts: a replica killed while
    # holding it delays that delivery by this much, then another replica takes it over. A send
    # starts in the first half of the lease only, so the lease covers 4 channel timeouts.
    delivery_claim_lease_s: float = Field(60.0, gt=0)
    # Attempts in flight at once in one replica: a slow receiver does not hold up the others.
    delivery_concurrency: int = Field(8, ge=1, le=100)

    # Webhooks: how long a receiver may take, and when an endpoint is switched off.
    webhook_timeout_s: float = Field(5.0, gt=0)
    # Consecutive failures that disable a webhook endpoint.
    webhook_disable_after: int = Field(10, ge=1)
    # Comma-separated hosts a webhook may reach over http and at a private or loopback address
    # outside development (a local test receiver: `127.0.0.1`); empty in production.
    webhook_allow_hosts: str = ""

    def webhook_targets(self) -> WebhookTargets:
        hosts = {host.strip().lower() for host in self.webhook_allow_hosts.split(",")}
        return WebhookTargets(
            development=self.environment == "development", allowed_hosts=frozenset(hosts - {""})
        )

    # Daily digest, sent once a day at this hour (UTC) for the notifications of the day before.
    digest_hour_utc: int = Field(7, ge=0, le=23)
    # How often the digest loop looks whether a digest is due.
    digest_check_interval_s: float = Field(60.0, gt=0)

    # Matchmaking: how many of the best-ranked candidates hear of a call.
    candidates_top_n: int = Field(5, ge=0)

    @model_validator(mode="after")
    def _claim_outlives_a_send(self) -> Self:
        slowest = max(self.smtp_timeout_s, self.webhook_timeout_s)
        if self.delivery_claim_lease_s < 4 * slowest:
            raise ValueError(
                f"NOTIFICATIONS_DELIVERY_CLAIM_LEASE_S ({self.delivery_claim_lease_s:g}) must be "
                f"at least 4 times the slowest channel timeout ({slowest:g} s): a send that "
                "outlives its claim could be made a second time by another replica"
            )
        return self
