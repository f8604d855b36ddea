"""The outgoing channels: e-mail over SMTP and signed webhook calls over HTTP.

Both raise `DeliveryFailed` with a short classified reason (`smtp_refused`, `smtp_550`,
`smtp_unreachable`, `timeout`, `unreachable`, `http_503`, ...): that is what the delivery state,
the `NotificationFailed` event and a subscription's `last_error` carry. The exception's own text
(host names, the server's answer, addresses) goes to the log only, masked by the log redaction.
`permanent` says that retrying cannot help (the server refused the address for good), so the
delivery fails at once.
"""

import asyncio
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import httpx

from eci_common.logging import get_logger
from eci_notifications.domain import SIGNATURE_HEADER, webhook_signature
from eci_notifications.webhook_targets import UnsafeWebhookTarget, WebhookTargets

log = get_logger(__name__)


class DeliveryFailed(Exception):
    """The channel did not take the message."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class Email:
    """One message: the plain-text part always, the HTML one when there is one."""

    to: str
    subject: str
    text: str
    html: str | None = None
    message_id_domain: str = "eci.example"
    # The delivery's id in an `X-ECI-Delivery` header: a resend after a crash carries the same.
    delivery_id: str | None = None


class Mailer(Protocol):
    """Hands an e-mail to a server; returns once the server accepted it."""

    async def send(self, email: Email) -> None: ...


class CredentialsInClear(ValueError):
    """An SMTP login configured without STARTTLS: refused when the settings are built."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where the SMTP server is and how to talk to it. With STARTTLS the server's certificate
    is verified against the system's CAs, or against `ca_file` only when it is set; a login is
    only ever sent inside TLS."""

    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if (self.username or self.password) and not self.starttls:
            raise CredentialsInClear(
                "NOTIFICATIONS_SMTP_USERNAME/NOTIFICATIONS_SMTP_PASSWORD are set but "
                "NOTIFICATIONS_SMTP_STARTTLS is false: the SMTP login would travel in clear; "
                "set NOTIFICATIONS_SMTP_STARTTLS=true (and NOTIFICATIONS_SMTP_CA_FILE for a "
                "private CA) or remove the credentials"
            )

    def tls_context(self) -> ssl.SSLContext:
        """Verifying context: certificate chain and host name (a missing CA file fails here)."""
        return ssl.create_default_context(cafile=self.ca_file)


class SmtpMailer:
    """`smtplib` in a worker thread: the event loop never waits on the SMTP dialogue."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        # Built once, at start-up: an unreadable CA file stops the service, not each e-mail.
        self._tls = config.tls_context() if config.starttls else None

    async def send(self, email: Email) -> None:
        await asyncio.to_thread(self._send, email)

    def _send(self, email: Email) -> None:
        config = self._config
        message = EmailMessage()
        message["From"] = config.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Message-ID"] = make_msgid(domain=email.message_id_domain)
        message.set_content(email.text)
        if email.delivery_id is not None:
            message["X-ECI-Delivery"] = email.delivery_id
        if email.html is not None:
            message.add_alternative(email.html, subtype="html")
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
                if self._tls is not None:
                    smtp.starttls(context=self._tls)  # raises unless the certificate verifies
                if config.username and config.password:
                    if not isinstance(smtp.sock, ssl.SSLSocket):  # never without TLS
                        raise DeliveryFailed("refusing to send SMTP credentials without TLS")
                    smtp.login(config.username, config.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _failed("smtp_refused", exc, permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise _failed(f"smtp_{exc.smtp_code}", exc, permanent=permanent) from exc
        except TimeoutError as exc:
            raise _failed("timeout", exc) from exc
        except ssl.SSLCertVerificationError as exc:  # an OSError: before the generic case
            raise _failed("smtp_certificate_refused", exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise _failed("smtp_unreachable", exc) from exc


class WebhookCaller(Protocol):
    """POSTs a signed body; returns once the receiver answered 2xx."""

    async def call(
        self, *, url: str, secret: str, body: bytes, event_type: str, delivery_id: str
    ) -> None: ...


class HttpWebhookCaller:
    """Webhook calls over one `httpx.AsyncClient` (opened and closed in the lifespan), each to
    a target `targets` still allows once its host is resolved (never a private address)."""

    def __init__(self, client: httpx.AsyncClient, targets: WebhookTargets) -> None:
        self._client = client
        self._targets = targets

    async def call(
        self, *, url: str, secret: str, body: bytes, event_type: str, delivery_id: str
    ) -> None:
        headers = {
            "Content-Type": "application/cloudevents+json",
            SIGNATURE_HEADER: webhook_signature(secret, int(time.time()), body),
            "X-ECI-Event-Type": event_type,
            # Receivers deduplicate on it: a retry after a lost answer carries the same id.
            "X-ECI-Delivery": delivery_id,
        }
        try:
            await self._targets.check_resolved(url)
        except UnsafeWebhookTarget as exc:
            raise _failed("endpoint_refused", exc, permanent=True, delivery_id=delivery_id) from exc
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _failed("timeout", exc, delivery_id=delivery_id) from exc
        except httpx.HTTPError as exc:
            raise _failed("unreachable", exc, delivery_id=delivery_id) from exc
        if not response.is_success:
            raise DeliveryFailed(f"http_{response.status_code}")


def _failed(
    reason: str, exc: BaseException, *, permanent: bool = False, delivery_id: str | None = None
) -> DeliveryFailed:
    """The classified failure; the exception's text is logged (redacted), never stored."""
    log.info(
        "channel_failed",
        reason=reason,
        delivery_id=delivery_id,
        error_type=type(exc).__name__,
        detail=str(exc)[:300],
    )
    return DeliveryFailed(reason, permanent=permanent)
