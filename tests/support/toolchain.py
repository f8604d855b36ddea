"""What a test does when this machine cannot start a broker of the test's own (no java or no
mvn): it skips on a developer's machine, and fails in CI (the `CI` variable set), where a
missing toolchain must not turn fault, ACL and hostile-event tests silently into skips."""

import os

import pytest

from support.private_kafka import can_run_private_broker


def require_private_broker(why: str) -> None:
    """Returns if a private broker can be started; otherwise skips, or fails under CI."""
    if can_run_private_broker():
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{why}; CI must provide java and mvn, this runner lacks them")
    pytest.skip(why)
