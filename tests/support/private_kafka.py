"""A Kafka broker (and a FerretDB) of the test's own (infra scripts on free ports, data in a
temporary folder), for tests that stop, kill or restart them without disturbing other tests."""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.endpoints import INFRA, free_port


def can_run_private_broker() -> bool:
    return shutil.which("java") is not None and shutil.which("mvn") is not None


@dataclass
class PrivateKafka:
    state_dir: Path
    port: int
    controller_port: int

    @classmethod
    def create(cls, state_dir: Path) -> "PrivateKafka":
        return cls(state_dir=state_dir, port=free_port(), controller_port=free_port())

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "ECI_STATE_DIR": str(self.state_dir),
            "KAFKA_HEAP": "384m",
        }
        subprocess.run([str(INFRA / "kafka.sh"), *args], env=env, check=True, timeout=180)

    def start(self) -> None:
        self._run("start")

    def declare_topics(self) -> None:
        self._run("topics")

    def stop(self) -> None:
        self._run("stop")

    def kill(self) -> None:
        self._run("kill")


@dataclass
class PrivateFerretDB:
    """A FerretDB of the test's own (infra/ferretdb.sh on free ports, data in a temp folder)."""

    state_dir: Path
    port: int
    debug_port: int

    @classmethod
    def create(cls, state_dir: Path) -> "PrivateFerretDB":
        return cls(state_dir=state_dir, port=free_port(), debug_port=free_port())

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def _run(self, *args: str) -> None:
        env = {
            **os.environ,
            "FERRETDB_PORT": str(self.port),
            "FERRETDB_DEBUG_PORT": str(self.debug_port),
            "ECI_STATE_DIR": str(self.state_dir),
        }
        subprocess.run([str(INFRA / "ferretdb.sh"), *args], env=env, check=True, timeout=180)

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")
