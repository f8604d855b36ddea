"""`make run` runs Kafka with SASL/SCRAM and the ACLs by default, as compose does, and its
services log in with their own accounts, so that no local client without an account reads the
contacts topic; `make run KAFKA_SASL=0` is the PLAINTEXT way for debugging, and `make test`
keeps its PLAINTEXT broker (docs/operations.md, "Local runs and SASL").

The broker side (SASL listener, ACLs, what each account may read) is shown on a real broker by
tests/integration/test_kafka_acls.py; this checks the wiring of the local recipes."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from support.endpoints import INFRA

REPO = INFRA.parent


def _make_database(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_SASL"}
    done = subprocess.run(
        ["make", "-pn", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def _target_sasl(database: str, target: str) -> str | None:
    found = re.search(rf"^{target}: (?:export )?KAFKA_SASL :?= (\S+)$", database, re.M)
    return found.group(1) if found else None


def test_make_run_asks_for_sasl_and_make_test_for_plaintext() -> None:
    database = _make_database("run")
    assert _target_sasl(database, "run") == "1"
    assert _target_sasl(database, "test") == "0"


def _login(tmp_path: Path, mode: str | None, service: str) -> list[str]:
    port = "1"  # no broker: the mode comes from the node's folder
    if mode is not None:
        node = tmp_path / (f"kafka-{port}-sasl" if mode == "sasl" else f"kafka-{port}")
        (node / "data").mkdir(parents=True)
        (node / "data" / "meta.properties").write_text("")
        (node / "security-mode").write_text(mode + "\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")},
        "KAFKA_PORT": port,
        "ECI_STATE_DIR": str(tmp_path),
        "AUTH_JWT_SECRET": "x" * 48,
    }
    done = subprocess.run(
        [str(INFRA / "services.sh"), "kafka-login", service],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.split()


@pytest.mark.parametrize("service", ["registry", "projects", "notifications"])
def test_on_a_sasl_broker_each_service_logs_in_with_its_own_account(
    tmp_path: Path, service: str
) -> None:
    login = dict(line.split("=", 1) for line in _login(tmp_path, "sasl", service))
    assert login["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert login["KAFKA_SASL_USERNAME"] == service
    assert login["KAFKA_SASL_PASSWORD"] == f"eci-dev-{service}-password"


def test_on_a_plaintext_broker_no_login(tmp_path: Path) -> None:
    assert _login(tmp_path, "plaintext", "registry") == []
    assert _login(tmp_path / "fresh", None, "registry") == []
