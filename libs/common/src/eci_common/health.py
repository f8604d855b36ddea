"""What `/health/ready` and `/metrics` report, observed by the service itself in the background.

Both endpoints are open (load balancers and Prometheus call them without a token), so neither
may cost the service anything per call: they read the last observation, made every
`health_refresh_s` by one task, and never touch the database or the broker themselves. A failed
check says `unreachable`: the exception's text (host names, ports, the backend's message) goes
nowhere, only its class goes to the log.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eci_common.logging import get_logger
from eci_common.periodic import PeriodicJob

log = get_logger(__name__)

Probe = Callable[[], Awaitable[bool | None]]
Measure = Callable[[], Awaitable[None]]

OK = "ok"
UNREACHABLE = "unreachable"
UNKNOWN = "unknown"  # not observed yet


@dataclass(frozen=True, slots=True)
class Check:
    """The last answer of one dependency."""

    ok: bool
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status}


class HealthMonitor:
    """Runs the probes (is a dependency answering?) and the measures (gauges such as the outbox
    backlog and consumer lag) periodically, and keeps their last results."""

    def __init__(self, *, interval_s: float, timeout_s: float = 2.0) -> None:
        self._timeout_s = timeout_s
        self._probes: dict[str, Probe] = {}
        self._measures: dict[str, Measure] = {}
        self._checks: dict[str, Check] = {}
        self._observed_at: float | None = None
        self._job = PeriodicJob(
            "health-monitor", self.observe, interval_s, first_after_interval=True
        )

    def probe(self, name: str, probe: Probe) -> None:
        """A dependency: answering if `probe` returns without error and not False."""
        self._probes[name] = probe
        self._checks[name] = Check(ok=False, status=UNKNOWN)

    def measure(self, name: str, measure: Measure) -> None:
        """A gauge updater, run after the probes; a failure leaves the gauge as it was."""
        self._measures[name] = measure

    def checks(self) -> dict[str, dict[str, Any]]:
        """The last observation of every probe (no I/O)."""
        return {name: check.as_dict() for name, check in self._checks.items()}

    def ok(self, name: str) -> bool:
        check = self._checks.get(name)
        return check is not None and check.ok

    @property
    def age_s(self) -> float | None:
        """Seconds since the last observation, None before the first."""
        return None if self._observed_at is None else time.monotonic() - self._observed_at

    async def observe(self) -> None:
        """One observation: every probe, then every measure, each bounded by the timeout."""
        for name, probe in self._probes.items():
            self._checks[name] = await self._run_probe(name, probe)
        for name, measure in self._measures.items():
            try:
                await asyncio.wait_for(measure(), self._timeout_s)
            except Exception as exc:  # noqa: BLE001 - a gauge left stale, said in the log
                log.warning("measure_failed", measure=name, error_type=type(exc).__name__)
        self._observed_at = time.monotonic()

    async def _run_probe(self, name: str, probe: Probe) -> Check:
        try:
            answer = await asyncio.wait_for(probe(), self._timeout_s)
        except Exception as exc:  # noqa: BLE001 - reported as unreachable, never raised
            log.warning("dependency_unreachable", dependency=name, error_type=type(exc).__name__)
            return Check(ok=False, status=UNREACHABLE)
        if answer is False:
            return Check(ok=False, status=UNREACHABLE)
        return Check(ok=True, status=OK)

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()
