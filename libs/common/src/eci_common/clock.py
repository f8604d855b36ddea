"""Time as the services record it."""

from datetime import UTC, datetime


def now() -> datetime:
    """Current UTC time at millisecond precision, the precision BSON dates keep, so that what
    an API answers, what an event carries and what the database stores are equal."""
    current = datetime.now(UTC)
    return current.replace(microsecond=current.microsecond // 1000 * 1000)
