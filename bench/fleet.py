"""Service processes for the benchmarks: started as the e2e tests start them
(tests/support/services.py), watched for memory, their JSON logs read back for timestamps."""

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from harness import rss_mib

from support.endpoints import Endpoints
from support.services import ServiceProcess, make_service


def prepare_service(
    name: str,
    endpoints: Endpoints,
    run: str,
    log_dir: Path,
    *,
    replica: int = 0,
    **overrides: str,
) -> ServiceProcess:
    """One process of a service as `start_service` starts it (environment, port, log file),
    not started yet."""
    overrides = {
        "MONGODB_DATABASE": f"bench_{run}_{name}",
        "CONSUMER_GROUP": f"bench-{run}-{name}",
        **overrides,
    }
    process = make_service(name, endpoints, run, log_dir, **overrides)
    return replace(process, log_path=log_dir / f"{name}-{replica}.log")


def start_service(
    name: str,
    endpoints: Endpoints,
    run: str,
    log_dir: Path,
    *,
    replica: int = 0,
    **overrides: str,
) -> ServiceProcess:
    """One process of a service, on its own port; replicas share the database and the group."""
    process = prepare_service(name, endpoints, run, log_dir, replica=replica, **overrides)
    process.start()
    return process


async def wait_all_ready(processes: Iterable[ServiceProcess], limit_s: float = 90.0) -> None:
    await asyncio.gather(*(process.wait_ready(limit_s) for process in processes))


def stop_all(processes: Iterable[ServiceProcess]) -> None:
    for process in processes:
        if process.process is None:
            continue
        try:
            process.stop(30)
        except AssertionError as exc:
            print(f"  ({process.name}: {exc})")


class Sampling:
    """Calls `sample` every `interval` seconds between `start` and `stop`."""

    interval: float
    _task: asyncio.Task[None] | None

    def sample(self) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self.sample()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@dataclass
class MemoryWatch(Sampling):
    """Samples the resident memory of each process every `interval` seconds."""

    processes: Sequence[ServiceProcess]
    interval: float = 0.5
    peak: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def label(self, process: ServiceProcess) -> str:
        return process.log_path.stem

    def sample(self) -> None:
        for process in self.processes:
            if process.process is None:
                continue
            rss = rss_mib(process.process.pid)
            if rss is None:
                continue
            key = self.label(process)
            self.last[key] = rss
            self.peak[key] = max(self.peak.get(key, 0.0), rss)

    def print(self, limit_mib: float = 150.0) -> None:
        print(f"\nResident memory (VmRSS), sampled every {self.interval} s")
        for key in sorted(self.peak):
            verdict = "MET" if self.peak[key] <= limit_mib else "MISSED"
            print(
                f"  {key:<18} peak {self.peak[key]:6.1f} MiB, last {self.last[key]:6.1f} MiB"
                f"   target <= {limit_mib:.0f} MB: {verdict}"
            )


def log_times(paths: Iterable[Path], event: str, key: str = "correlation_id") -> dict[str, float]:
    """The earliest time (epoch seconds) of each `key` value among the JSON log lines whose
    `event` is `event`: when a service says it did something, with microseconds."""
    times: dict[str, float] = {}
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if f'"{event}"' not in line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("event") != event or key not in entry or "timestamp" not in entry:
                continue
            at = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
            value = str(entry[key])
            times[value] = min(times.get(value, at.timestamp()), at.timestamp())
    return times


def now() -> float:
    """Wall clock, comparable with the services' log timestamps (same machine)."""
    return time.time()
