"""Notifications and the rules that decide them. No I/O."""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

STAFF = "staff"  # the association's staff, as one recipient


class Channel(StrEnum):
    """Where a notification is delivered."""

    INBOX = "inbox"


@dataclass(frozen=True)
class Notification:
    """One message for one recipient on one channel, caused by one event."""

    id: str
    recipient: str
    channel: Channel
    kind: str
    title: str
    body: str
    company_id: str | None
    event_id: str
    correlation_id: str
    created_at: datetime
    read: bool = False


def notification_id(*, event_source: str, event_id: str, recipient: str, channel: Channel) -> str:
    """Deterministic: the same event can never notify the same recipient twice on a channel."""
    digest = hashlib.sha256(f"{event_source}|{event_id}|{recipient}|{channel}".encode())
    return digest.hexdigest()[:32]
