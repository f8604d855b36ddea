"""The figures docs/testing.md gives for the fault tests are the ones the tests use: each is read
from the page and compared with the constants of its test module, so that a change of either
without the other fails here instead of drifting."""

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from fault import (
    test_backend_outage,
    test_consumer_killed,
    test_database_outage,
    test_notification_replicas,
    test_poison_and_replay,
    test_rebalance,
)

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _number(text: str) -> int:
    return int(text.replace(",", ""))


# (the test module, a pattern of its row, the figures the pattern's groups must equal)
FIGURES: list[tuple[ModuleType, str, Callable[[ModuleType], tuple[int, ...]]]] = [
    (
        test_consumer_killed,
        r"(\d+) times during a ([\d,]+)-record stream",
        lambda m: (m.KILLS, m.EVENTS + m.REDELIVERED),
    ),
    (
        test_database_outage,
        r"stopped (\d+) s under a ([\d,]+)-record load",
        lambda m: (m.OUTAGE_S, m.EVENTS + m.REDELIVERED),
    ),
    (test_rebalance, r"mid-stream of ([\d,]+) records", lambda m: (m.EVENTS + m.REDELIVERED,)),
    (
        test_backend_outage,
        r"stopped (\d+) s behind a running FerretDB during a ([\d,]+)-event stream",
        lambda m: (m.OUTAGE_S, m.EVENTS),
    ),
    (
        test_notification_replicas,
        r"send ([\d,]+) e-mails and ([\d,]+) webhook calls",
        lambda m: (m.EMAILS, m.WEBHOOKS),
    ),
    (test_poison_and_replay, r"after (\d+) attempts", lambda m: (m.ATTEMPTS,)),
]


@pytest.mark.parametrize(
    ("module", "pattern", "expected"), FIGURES, ids=[m.__name__ for m, _, _ in FIGURES]
)
def test_the_fault_table_gives_the_figures_the_tests_use(
    module: ModuleType, pattern: str, expected: Callable[[ModuleType], tuple[int, ...]]
) -> None:
    name = module.__name__.rsplit(".", 1)[-1]
    rows = [
        line for line in PAGE.read_text(encoding="utf-8").splitlines() if f"`{name}.py`" in line
    ]
    assert rows, f"docs/testing.md has no row for {name}.py"
    found = re.search(pattern, rows[0])
    assert found, f"the row of {name}.py no longer says {pattern!r}: {rows[0]}"
    assert tuple(_number(group) for group in found.groups()) == expected(module)
