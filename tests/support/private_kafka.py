"""A Kafka broker (and a FerretDB) of the test's own (infra scripts on free ports, data in a
temporary folder), for tests that stop, kill or restart them without disturbing other tests.

`PrivateKafka.create(..., sasl=True)` starts it in SASL mode (`infra/kafka.sh start --sasl`):
SCRAM logins, ACLs on, the accounts of `infra/kafka-accounts.conf` with their rights, each with a
random password of this broker's own, which `credentials` and `settings` hand out."""

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from eci_common.settings import KafkaSettings
from support.endpoints import INFRA, free_port

ADMIN = "admin"


@dataclass(frozen=True)
class KafkaAccount:
    """One line of infra/kafka-accounts.conf."""

    name: str
    role: str
    group_prefix: str | None
    password_variable: str


def kafka_accounts() -> list[KafkaAccount]:
    """The accounts declared in infra/kafka-accounts.conf (the admin is not among them)."""
    accounts = []
    for line in (INFRA / "kafka-accounts.conf").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, role, group, variable = line.split()[:4]
        accounts.append(KafkaAccount(name, role, None if group == "-" else group, variable))
    return accounts


def can_run_private_broker() -> bool:
    return shutil.which("java") is not None and shutil.which("mvn") is not None


@dataclass
class PrivateKafka:
    state_dir: Path
    port: int
    controller_port: int
    sasl: bool = False
    # account -> password; the admin's too. Empty without SASL.
    passwords: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, state_dir: Path, *, sasl: bool = False) -> "PrivateKafka":
        names = (ADMIN, *(account.name for account in kafka_accounts())) if sasl else ()
        passwords = {name: secrets.token_urlsafe(18) for name in names}
        return cls(
            state_dir=state_dir,
            port=free_port(),
            controller_port=free_port(),
            sasl=sasl,
            passwords=passwords,
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def credentials(self, account: str = ADMIN, *, password: str | None = None) -> dict[str, str]:
        """The environment that makes a service (or any `KafkaSettings`) log in as `account`;
        `password` replaces the real one (to be refused)."""
        assert self.sasl, "a broker without SASL has no accounts"
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": account,
            "KAFKA_SASL_PASSWORD": password or self.passwords[account],
        }

    def settings(self, account: str = ADMIN, **overrides: str) -> KafkaSettings:
        """`KafkaSettings` logging in as `account` (overrides by environment variable name)."""
        return KafkaSettings(**{**self.credentials(account), **overrides})

    def _run(self, *args: str) -> None:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "ECI_STATE_DIR": str(self.state_dir),
            "KAFKA_HEAP": "384m",
            "KAFKA_SASL": "1" if self.sasl else "0",
        }
        if self.sasl:
            env["KAFKA_ADMIN_PASSWORD"] = self.passwords[ADMIN]
            for account in kafka_accounts():
                env[account.password_variable] = self.passwords[account.name]
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
    """A FerretDB of the test's own (infra/ferretdb.sh on free ports, its state in a temp folder,
    its data in a PostgreSQL database of its own on the clone's PostgreSQL server)."""

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
