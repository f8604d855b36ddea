"""Notifications, deliveries, contacts and preferences, and the rules that decide a channel's
fate. No I/O."""

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

STAFF = "staff"  # the association's staff, as one recipient


class Channel(StrEnum):
    """Where a notification is delivered."""

    INBOX = "inbox"
    EMAIL = "email"
    WEBHOOK = "webhook"


class RecipientKind(StrEnum):
    """Who a notification is for: the staff, a company's inbox, one contact, an integrator."""

    STAFF = "staff"
    COMPANY = "company"
    CONTACT = "contact"
    SUBSCRIPTION = "subscription"


class Status(StrEnum):
    """The state of one notification on one channel."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class Mode(StrEnum):
    """A contact's choice for one family of events on one channel."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"
    OFF = "off"


# Why a channel stays silent: said in the delivery state, so that nobody wonders.
NO_CONSENT = "no_consent"
OPTED_OUT = "opted_out"
ENDPOINT_DISABLED = "endpoint_disabled"


@dataclass(frozen=True)
class Notification:
    """One message for one recipient on one channel, caused by one event, with its delivery."""

    id: str
    recipient: str
    recipient_kind: RecipientKind
    channel: Channel
    kind: str
    family: str
    title: str
    body: str
    company_id: str | None  # the company it is about, if one
    event_id: str
    correlation_id: str
    created_at: datetime
    event_type: str = ""
    event_source: str = ""
    about: tuple[str, ...] = ()  # every company it names: an erasure of any removes it
    recipient_company_id: str | None = None
    html: str | None = None
    address: str | None = None  # e-mail address or webhook URL
    payload: str | None = None  # the webhook body, exactly as signed
    read: bool = False
    status: Status = Status.SENT
    reason: str | None = None
    digest: bool = False
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    version: int = 1


@dataclass(frozen=True)
class Contact:
    """A person to contact at a company, as the registry last said (internal topic)."""

    id: str
    company_id: str
    name: str
    email: str
    language: str = "fr"
    consent: bool = False
    role: str | None = None


@dataclass(frozen=True)
class Preferences:
    """A contact's choices: `modes[family][channel]`; what is absent is immediate."""

    contact_id: str
    company_id: str
    modes: dict[str, dict[str, Mode]] = field(default_factory=dict)

    def mode(self, family: str, channel: Channel) -> Mode:
        return self.modes.get(family, {}).get(channel.value, Mode.IMMEDIATE)


@dataclass(frozen=True)
class Decision:
    """What happens to one channel of one notification for one contact."""

    status: Status
    reason: str | None = None
    digest: bool = False


def decide(contact: Contact, preferences: Preferences, family: str, channel: Channel) -> Decision:
    """Consent first (no e-mail without it), then the contact's preference."""
    if channel is Channel.EMAIL and not contact.consent:
        return Decision(Status.SUPPRESSED, NO_CONSENT)
    mode = preferences.mode(family, channel)
    if mode is Mode.OFF:
        return Decision(Status.SUPPRESSED, OPTED_OUT)
    if channel is Channel.INBOX:
        return Decision(Status.SENT)  # stored is delivered; a digest concerns e-mail only
    return Decision(Status.PENDING, digest=mode is Mode.DIGEST)


def notification_id(*, event_source: str, event_id: str, recipient: str, channel: Channel) -> str:
    """Deterministic: the same event can never notify the same recipient twice on a channel."""
    digest = hashlib.sha256(f"{event_source}|{event_id}|{recipient}|{channel}".encode())
    return digest.hexdigest()[:32]


def contact_id(company_id: str, email: str) -> str:
    """Stable across the registry's updates of the contact's other fields."""
    return hashlib.sha256(f"{company_id}|{email.casefold()}".encode()).hexdigest()[:20]


def retry_delay(attempts: int, *, initial_s: float, max_s: float) -> timedelta:
    """Exponential backoff after the `attempts`-th failure: initial, 2x, 4x... capped."""
    return timedelta(seconds=min(initial_s * 2 ** (attempts - 1), max_s))


SIGNATURE_HEADER = "X-ECI-Signature"


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is signed with the body,
    so that a receiver rejecting old timestamps is safe from replays."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int) -> bool:
    """What a receiver does (and the tests): recompute, compare in constant time, check age."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = webhook_signature(secret, timestamp, body).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
