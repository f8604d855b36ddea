"""Outbox entries for the relay tests: an aggregate's `CompanyRegistered` events, one per
version, stored as the repositories store them and aimed at the test's own topic."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from eci_common.envelope import new_event
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.outbox import outbox_entries


def company_entries(aggregate: str, versions: Iterable[int], topic: str) -> list[dict[str, Any]]:
    events = [
        new_event(
            CompanyRegisteredV1(
                company_id=aggregate,
                version=version,
                legal_name=f"Company {aggregate} v{version}",
                country="FR",
                registered_at=datetime.now(UTC),
            ),
            source="/eci/test",
        )
        for version in versions
    ]
    entries = outbox_entries(events)
    for entry in entries:
        entry["topic"] = topic
    return entries
