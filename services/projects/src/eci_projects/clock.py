"""Time as the projects service records it."""

from datetime import UTC, datetime


def now() -> datetime:
    """Current UTC time at millisecond precision, the precision BSON dates keep."""
    current = datetime.now(UTC)
    return current.replace(microsecond=current.microsecond // 1000 * 1000)
