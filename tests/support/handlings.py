"""How many times a service process handled each event, read from its own log.

The consumer logs `event_handled` (with the event's id bound) once per handling that ran a
handler to its end, and `event_duplicate_skipped` when its idempotency record stops a
redelivery. Counting `event_handled` per event id therefore counts effect applications, which
documents with deterministic ids cannot: a second application of such a document leaves one
document behind. Counts are kept per process instance (each start of a `ServiceProcess`), because
an instance killed between its effects and its commit legitimately leaves its last batch to the
next instance; within one instance nothing is ever handled twice.
"""

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from support.services import ServiceProcess

HANDLED = "event_handled"


def count_handled(lines: Iterable[str]) -> Counter[str]:
    """event id -> number of `event_handled` lines; a line cut short by a kill is not counted."""
    counts: Counter[str] = Counter()
    for line in lines:
        if HANDLED not in line:
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("event") == HANDLED and "event_id" in entry:
            counts[str(entry["event_id"])] += 1
    return counts


@dataclass(frozen=True)
class Handlings:
    """The handlings of one or more service processes (replicas of one consumer group)."""

    per_instance: list[Counter[str]]

    @classmethod
    def of(cls, *services: ServiceProcess) -> "Handlings":
        return cls([count_handled(log.splitlines()) for s in services for log in s.instance_logs()])

    @property
    def total(self) -> Counter[str]:
        """event id -> handlings over every instance."""
        total: Counter[str] = Counter()
        for counts in self.per_instance:
            total.update(counts)
        return total

    def twice_in_one_instance(self) -> dict[str, int]:
        """event id -> handlings, for the events one instance handled more than once."""
        return {
            event_id: count
            for counts in self.per_instance
            for event_id, count in counts.items()
            if count > 1
        }

    def repeated(self) -> dict[str, int]:
        """event id -> handlings, for the events handled more than once in all."""
        return {event_id: count for event_id, count in self.total.items() if count > 1}
