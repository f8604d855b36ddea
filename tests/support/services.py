"""The services as separate processes (`python -m eci_<name>`), each with its own database,
consumer group and port, so that tests never share state."""

import itertools
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support.endpoints import REPO, Endpoints, free_port
from support.polling import eventually

NAMES = ("registry", "projects", "notifications")


@dataclass
class ServiceProcess:
    """One service process; start, stop (SIGTERM), kill (SIGKILL), restart."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int
    module: str | None = None  # defaults to the service's own, eci_<name>
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # Where each start's output begins in the log, to tell the instances apart.
    log_starts: list[int] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return self.env[f"{self.name.upper()}_MONGODB_DATABASE"]

    @property
    def group(self) -> str:
        """The service's consumer group."""
        return self.env[f"{self.name.upper()}_CONSUMER_GROUP"]

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        log = self.log_path.open("ab")
        self.log_starts.append(log.tell())
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module or f"eci_{self.name}"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    async def wait_ready(self, timeout: float = 60.0) -> None:
        async def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    response = await client.get(f"{self.url}/health/ready")
            except httpx.HTTPError:
                return False
            return response.status_code == 200

        await eventually(ready, timeout=timeout, what=f"{self.name} to be ready")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s") from None
        return self.process.returncode

    def kill(self) -> None:
        """An abrupt death: SIGKILL, nothing flushed, nothing committed."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def instance_logs(self) -> list[str]:
        """The log of each start of this process, in order."""
        if not self.log_path.exists():
            return []
        text = self.log_path.read_bytes()
        bounds = [*self.log_starts, len(text)]
        return [
            text[begin:end].decode(errors="replace") for begin, end in itertools.pairwise(bounds)
        ]

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "<no log>"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def service_env(name: str, endpoints: Endpoints, run_id: str, **overrides: str) -> dict[str, str]:
    prefix = name.upper()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap,
        "MONGODB_URI": endpoints.mongodb_uri,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        f"{prefix}_HTTP_PORT": str(free_port()),
        f"{prefix}_MONGODB_DATABASE": f"t_{run_id}_{name}",
        f"{prefix}_CONSUMER_GROUP": f"t-{run_id}-{name}",
        f"{prefix}_OUTBOX_POLL_INTERVAL_S": "0.2",
        f"{prefix}_CONSUMER_BACKOFF_MAX_S": "2",
        # A process killed with -9 blocks its restart on FerretDB for about this (the replica
        # fence); tests that kill and restart keep it short.
        f"{prefix}_REPLICA_FENCE_LEASE_S": "2",
    }
    env.update({f"{prefix}_{key}": value for key, value in overrides.items()})
    return env


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


def make_service(
    name: str, endpoints: Endpoints, run_id: str, log_dir: Path, **overrides: str
) -> ServiceProcess:
    env = service_env(name, endpoints, run_id, **overrides)
    return ServiceProcess(
        name=name,
        env=env,
        log_path=log_dir / f"{name}.log",
        port=int(env[f"{name.upper()}_HTTP_PORT"]),
    )
