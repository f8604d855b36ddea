"""A test that needs a broker of its own skips on a machine without java or mvn, and fails in
CI, where such a skip would hide that the fault, ACL and hostile-event tests never ran."""

import pytest

from support import toolchain


@pytest.fixture
def no_toolchain(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(toolchain, "can_run_private_broker", lambda: False)
    return monkeypatch


def test_skips_without_ci(no_toolchain: pytest.MonkeyPatch) -> None:
    no_toolchain.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs java"):
        toolchain.require_private_broker("needs java")


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_fails_in_ci(no_toolchain: pytest.MonkeyPatch, value: str) -> None:
    no_toolchain.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI must provide java and mvn"):
        toolchain.require_private_broker("needs java")


def test_ci_set_to_false_still_skips(no_toolchain: pytest.MonkeyPatch) -> None:
    no_toolchain.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        toolchain.require_private_broker("needs java")


def test_returns_when_the_toolchain_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "can_run_private_broker", lambda: True)
    monkeypatch.setenv("CI", "true")
    toolchain.require_private_broker("needs java")
