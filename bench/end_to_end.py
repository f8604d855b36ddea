"""End to end: registrations, through the registry's REST API and through its service layer,
to stored staff notifications.

    uv run python bench/end_to_end.py [--via rest|service|both] [--peak-events N]
        [--concurrency C] [--half-s S]

Projects and notifications run as processes (tests/support/services.py), on databases and
consumer groups of this run, against a Kafka broker of the run's own
(tests/support/private_kafka.py): the services' topics have fixed names, and thousands of
registrations left on the shared broker's `eci.registry.companies` (kept forever) would be read
again by every later test's fresh consumer group. The database is the shared FerretDB.

Registrations are written two ways (`--via`, default `both`: REST first, then the service layer,
against the same projects and notifications processes, and the two compared):

- REST: the registry runs as a process too; clients POST /companies (phases `warm`, `peak`,
  `half`).
- Service layer: the registry process is stopped (one outbox relay per collection), and the
  registry's own composition root runs inside this process: `create_app(settings)` with the
  settings the process had (same environment: database, broker, poll interval, log level), its
  lifespan entered without an HTTP server (so its relay publishes), and
  `service.register_company(Unit(...), profile=CompanyCreate(**body).to_profile())` called
  directly, the correlation id bound to the log context as the HTTP middleware binds it
  (phases `svc-warm`, `svc-peak`, `svc-half`). Its log lines go to a file beside the services'
  logs, not to this terminal.

For each way:

1. Peak: `--concurrency` clients register as fast as the registry answers, up to
   `--peak-events` registrations; the end-to-end rate is registrations / (last notification
   stored - first registration sent). The registry's own acceptance rate is printed too.
2. Half of the peak, after `--settle-s` seconds of rest (5): registrations sent open-loop at half
   that rate for `--half-s` seconds; each
   latency runs from just before the POST (or the call) to the moment notifications stored the
   staff notification. That moment is the timestamp of the notifications service's `notified`
   log line (logged after the insert) for the registration's correlation id (`bench-<run>-
   <phase>-<index>`): the stored document's `created_at` is the event's time, set by the
   registry, not the time it was stored, and polling FerretDB finely enough would load the
   server being measured. The registry's answer time and its `company_registered` ->
   `notified` time (from the logs) are printed too.
3. Resident memory of each service process, sampled every 0.5 s throughout; with the service
   layer, the bench process's own (driver and in-process registry), which is no service
   process and has no target.

The database is then checked: one staff notification per registration, of both ways.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from unittest import mock

import httpx
import structlog
from fleet import MemoryWatch, Sampling, log_times, now, prepare_service, stop_all, wait_all_ready
from harness import (
    Rate,
    drop_databases,
    machine_note,
    mongodb_uri,
    new_run_id,
    percentile,
    print_rates,
    print_ratio,
    private_kafka,
    rss_mib,
    staff_headers,
    summary_ms,
)
from pymongo import AsyncMongoClient

from eci_registry.api_models import CompanyCreate
from eci_registry.main import RegistryState, create_app
from eci_registry.service import Unit, register_company
from eci_registry.settings import Settings
from support.endpoints import Endpoints
from support.services import ServiceProcess

NAMES = ("registry", "projects", "notifications")
P99_TARGET_S = 0.100
SERVICE_PREFIX = "svc-"  # phases of the service-layer way: svc-warm, svc-peak, svc-half


class Driver(Protocol):
    """One way of registering a company; says why not when it was not accepted."""

    label: str  # how the figures name this way
    call: str  # what a client does, in the figures
    prefix: str  # of this way's phase names
    registry_logs: list[Path]  # where the registry logs `company_registered`

    async def register(self, body: dict[str, Any], correlation: str) -> str | None: ...


@dataclass
class RestDriver:
    """POST /companies to the registry process."""

    client: httpx.AsyncClient
    registry_logs: list[Path]
    label: str = "REST"
    call: str = "POST"
    prefix: str = ""

    async def register(self, body: dict[str, Any], correlation: str) -> str | None:
        response = await self.client.post(
            "/companies", json=body, headers={"X-Correlation-ID": correlation}
        )
        if response.status_code != 201:
            return f"POST failed: {response.status_code} {response.text[:200]}"
        return None


@dataclass
class ServiceDriver:
    """`service.register_company` of the registry running in this process, with the unit of
    work its routes build (`api_support._unit`)."""

    state: RegistryState
    registry_logs: list[Path]
    label: str = "service layer"
    call: str = "register_company"
    prefix: str = SERVICE_PREFIX

    async def register(self, body: dict[str, Any], correlation: str) -> str | None:
        # As the HTTP middleware does for a request: the correlation id on every log line.
        with structlog.contextvars.bound_contextvars(correlation_id=correlation):
            unit = Unit(
                companies=self.state.companies,
                clusters=self.state.clusters,
                wake_outbox=self.state.relay.wake,
                correlation_id=correlation,
            )
            try:
                await register_company(unit, profile=CompanyCreate(**body).to_profile())
            except Exception as exc:  # noqa: BLE001 - counted as a failed registration
                return f"register_company failed: {exc!r}"[:250]
        return None


@dataclass
class Registrations:
    """Registrations sent by this run: when each left, when its answer came, by correlation id."""

    run: str
    contacts: bool
    sent: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    failures: int = 0

    def body(self, index: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "legal_name": f"Manufacture d'essai {self.run} n°{index}",
            "city": "Morteau",
            "region": "Bourgogne-Franche-Comté",
            "roles": ["dial_maker"],
            "capabilities": ["dials"],
        }
        if self.contacts:
            body["contacts"] = [
                {"name": f"Contact {index}", "email": f"c{index}@bench.example", "consent": True}
            ]
        return body

    async def send(self, driver: Driver, phase: str, index: int) -> None:
        correlation = f"bench-{self.run}-{phase}-{index}"
        self.sent[correlation] = now()
        failure = await driver.register(self.body(index), correlation)
        if failure is not None:
            self.failures += 1
            self.sent.pop(correlation)
            if self.failures <= 3:
                print(f"  {failure}")
            return
        self.answered[correlation] = now()

    def of_phase(self, phase: str) -> list[str]:
        return [key for key in self.sent if key.startswith(f"bench-{self.run}-{phase}-")]


def stored_times(notifications: list[ServiceProcess]) -> dict[str, float]:
    return log_times((process.log_path for process in notifications), "notified")


async def wait_stored(
    notifications: list[ServiceProcess], expected: list[str], limit_s: float
) -> dict[str, float]:
    """Until every expected correlation id has its `notified` line, or the time is up."""
    deadline = time.monotonic() + limit_s
    while True:
        times = stored_times(notifications)
        missing = [key for key in expected if key not in times]
        if not missing or time.monotonic() >= deadline:
            if missing:
                print(f"  ({len(missing)} of {len(expected)} not notified within {limit_s:.0f} s)")
            return times
        await asyncio.sleep(0.5)


async def peak(
    driver: Driver,
    registrations: Registrations,
    notifications: list[ServiceProcess],
    *,
    events: int,
    concurrency: int,
    budget_s: float,
) -> tuple[Rate, Rate]:
    """Closed loop: `concurrency` clients register until `events` or the budget is spent."""
    phase = f"{driver.prefix}peak"
    counter = iter(range(events))
    deadline = time.monotonic() + budget_s

    async def worker() -> None:
        for index in counter:
            if time.monotonic() >= deadline:
                return
            await registrations.send(driver, phase, index)

    started = now()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    accepted = now() - started
    keys = registrations.of_phase(phase)
    times = await wait_stored(notifications, keys, 120)
    done = [times[key] for key in keys if key in times]
    api = Rate(f"registry accepts {driver.call} (C={concurrency})", len(keys), accepted)
    end_to_end = Rate(
        f"{driver.call} -> staff notification stored",
        len(done),
        max(done) - started if done else 0.0,
    )
    return api, end_to_end


async def half_peak(
    driver: Driver,
    registrations: Registrations,
    notifications: list[ServiceProcess],
    *,
    rate: float,
    seconds: float,
) -> list[float]:
    """Open loop: one registration every 1/rate s, whatever the answers do; the latencies."""
    phase = f"{driver.prefix}half"
    count = max(int(rate * seconds), 10)
    started = time.monotonic()
    tasks = []
    for index in range(count):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(registrations.send(driver, phase, index)))
    await asyncio.gather(*tasks)
    keys = registrations.of_phase(phase)
    times = await wait_stored(notifications, keys, 60)
    api = [registrations.answered[key] - registrations.sent[key] for key in keys]
    print(f"  {f'{driver.call} answered (client side):':<47}{summary_ms(api)}")
    registered = log_times(driver.registry_logs, "company_registered")
    relay_and_consumer = [
        times[key] - registered[key] for key in keys if key in times and key in registered
    ]
    print(f"  {'registered -> notified (service logs):':<47}{summary_ms(relay_and_consumer)}")
    return [times[key] - registrations.sent[key] for key in keys if key in times]


@dataclass
class PathResult:
    """What one way of registering measured."""

    label: str
    api: Rate
    end_to_end: Rate
    latencies: list[float]

    @property
    def p99(self) -> float | None:
        return percentile(self.latencies, 0.99) if self.latencies else None

    def verdict(self) -> str:
        p99 = self.p99
        if p99 is None:
            return "no samples, target <= 100 ms: MISSED"
        verdict = "MET" if p99 <= P99_TARGET_S else "MISSED"
        return f"p99 {p99 * 1000:.1f} ms, target <= 100 ms: {verdict}"


async def measure_path(
    driver: Driver,
    registrations: Registrations,
    notifications: list[ServiceProcess],
    args: argparse.Namespace,
) -> PathResult:
    """Warm-up, peak, then half of the peak, through one driver."""
    print(f"\n=== {driver.label}: {driver.call} ===")
    warm = f"{driver.prefix}warm"
    for index in range(10):  # warm-up: group joins, first inserts, connections
        await registrations.send(driver, warm, index)
    await wait_stored(notifications, registrations.of_phase(warm), 60)
    api, end_to_end = await peak(
        driver,
        registrations,
        notifications,
        events=args.peak_events,
        concurrency=args.concurrency,
        budget_s=args.peak_s,
    )
    print_rates(f"Peak (closed loop), {driver.label}", [api, end_to_end])
    print_ratio("end to end / registry accepts", end_to_end, api)
    half = end_to_end.per_s / 2
    # The peak leaves work behind (the last batches' idempotency writes and commits, the
    # database's own housekeeping after thousands of inserts): the half-peak phase measures the
    # steady state, after a pause, and says how long that pause was.
    await asyncio.sleep(args.settle_s)
    print(
        f"\nHalf of the peak: {half:.1f} registrations/s, open loop, {args.half_s:.0f} s"
        f" (after {args.settle_s:.0f} s of rest)"
    )
    latencies = await half_peak(
        driver, registrations, notifications, rate=half, seconds=args.half_s
    )
    result = PathResult(driver.label, api, end_to_end, latencies)
    print(f"  {f'{driver.call} -> staff notification stored:':<47}{summary_ms(latencies)}")
    print(f"  {result.verdict()}")
    return result


@contextlib.asynccontextmanager
async def in_process_registry(
    registry: ServiceProcess, log_path: Path
) -> AsyncIterator[RegistryState]:
    """The registry's composition root in this process: the settings its process had (read
    from that process's environment), `create_app`, its lifespan (MongoDB, Kafka producer,
    outbox relay) without an HTTP server. The lifespan's logging writes to `log_path`."""
    with mock.patch.dict(os.environ, registry.env, clear=True):
        settings = Settings()
    app = create_app(settings)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def restore_logging() -> None:
        root.handlers[:] = handlers
        root.setLevel(level)

    async with contextlib.AsyncExitStack() as stack:
        log = stack.enter_context(log_path.open("a"))
        stack.callback(restore_logging)  # after the lifespan's exit, before the file closes
        # `configure_logging` (in the lifespan) binds its handler to sys.stderr as it is then.
        with contextlib.redirect_stderr(log):
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield app.state.registry


@dataclass
class OwnMemory(Sampling):
    """This process's resident memory while the registry's service layer runs in it."""

    interval: float = 0.5
    before: float = 0.0
    peak: float = 0.0
    last: float = 0.0
    _task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        rss = rss_mib(os.getpid())
        if rss is not None:
            self.last = rss
            self.peak = max(self.peak, rss)

    def start(self) -> None:
        self.before = rss_mib(os.getpid()) or 0.0
        super().start()

    def print(self) -> None:
        print(
            f"  {'bench process':<18} peak {self.peak:6.1f} MiB, last {self.last:6.1f} MiB"
            f"   ({self.before:.1f} MiB before the in-process registry; driver and registry"
            " service layer together, no service process: no target)"
        )


def compare(rest: PathResult, service: PathResult) -> None:
    print("\nService layer vs REST (same run, same projects and notifications processes)")
    print_ratio("peak end to end, service layer / REST", service.end_to_end, rest.end_to_end)
    print_ratio("peak registry accepts, service layer / REST", service.api, rest.api)
    for result in (rest, service):
        print(f"  {result.label:<14} {result.verdict()}")


def where_they_stopped(
    registry_logs: list[Path], processes: Sequence[ServiceProcess], keys: list[str]
) -> None:
    """How far the registrations went, stage by stage, from the services' logs: when the
    consumers of both groups miss the same ones, the registry's relay did not publish them."""
    _, projects, notifications = processes
    stages = (
        ("registered (registry)", registry_logs, "company_registered"),
        ("handled by projects", [projects.log_path], "event_handled"),
        ("handled by notifications", [notifications.log_path], "event_handled"),
        ("notified (notifications)", [notifications.log_path], "notified"),
    )
    print("  where the registrations stopped:")
    for label, paths, event in stages:
        seen = log_times(paths, event)
        print(f"    {label:<26} {sum(1 for key in keys if key in seen)} of {len(keys)}")
    for path in dict.fromkeys([*registry_logs, projects.log_path, notifications.log_path]):
        if not path.exists():
            continue
        print(f"  last lines of {path}:")
        for line in path.read_text(errors="replace").splitlines()[-5:]:
            print(f"    {line[:300]}")


async def count_staff(uri: str, database: str, run: str) -> tuple[int, int]:
    """Staff notifications of this run: all, and those of the service-layer way."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
    try:
        documents = client[database]["notifications"].find(
            {"recipient": "staff"}, {"correlation_id": 1}
        )
        count = service = 0
        async for document in documents:
            correlation = str(document.get("correlation_id", ""))
            count += correlation.startswith(f"bench-{run}-")
            service += correlation.startswith(f"bench-{run}-{SERVICE_PREFIX}")
        return count, service
    finally:
        await client.close()


async def measure(args: argparse.Namespace, bootstrap: str, run: str, log_dir: Path) -> None:
    endpoints = Endpoints(bootstrap, mongodb_uri(), "bench")
    processes = [prepare_service(name, endpoints, run, log_dir) for name in NAMES]
    registry, notifications = processes[0], [processes[2]]
    # Without the REST way, the registry process is only the environment of the in-process one.
    started = processes if args.via != "service" else processes[1:]
    for process in started:
        process.start()
    in_process_log = log_dir / "registry-in-process.log"
    registry_logs = [registry.log_path, in_process_log]
    watch = MemoryWatch(processes)
    own = OwnMemory()
    results: dict[str, PathResult] = {}
    try:
        await wait_all_ready(started)
        watch.start()
        registrations = Registrations(run, args.contacts)
        if args.via in ("rest", "both"):
            limits = httpx.Limits(max_connections=args.concurrency * 4)
            async with httpx.AsyncClient(
                base_url=registry.url, timeout=30, limits=limits, headers=staff_headers()
            ) as client:
                rest = RestDriver(client, [registry.log_path])
                results["rest"] = await measure_path(rest, registrations, notifications, args)
        if args.via in ("service", "both"):
            stop_all([registry])  # one relay on the registry's collections: the in-process one
            own.start()
            async with in_process_registry(registry, in_process_log) as state:
                service = ServiceDriver(state, [in_process_log])
                results["service"] = await measure_path(service, registrations, notifications, args)
            own.sample()
            await own.stop()
        if len(results) == 2:
            compare(results["rest"], results["service"])
        watch.sample()
        await watch.stop()
        watch.print()
        if "service" in results:
            own.print()
        stored, stored_service = await count_staff(mongodb_uri(), processes[2].database, run)
        sent_service = len(registrations.of_phase(SERVICE_PREFIX.rstrip("-")))
        print(
            f"\nCheck: {stored} staff notifications stored for {len(registrations.sent)} "
            f"registrations accepted (REST {stored - stored_service} for "
            f"{len(registrations.sent) - sent_service}, service layer {stored_service} for "
            f"{sent_service}; {registrations.failures} failed)"
        )
        if stored < len(registrations.sent):
            args.keep_logs = True  # what went missing is for a person to read
            where_they_stopped(registry_logs, processes, list(registrations.sent))
    finally:
        await own.stop()
        await watch.stop()
        stop_all(processes)
        await drop_databases(mongodb_uri(), [process.database for process in processes])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--via",
        choices=("rest", "service", "both"),
        default="both",
        help="register through the REST API, the service layer in process, or both (REST first)",
    )
    parser.add_argument("--peak-events", type=int, default=200)
    parser.add_argument("--peak-s", type=float, default=25.0, help="budget for the registrations")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--half-s", type=float, default=20.0)
    parser.add_argument(
        "--settle-s", type=float, default=5.0, help="rest between the peak and the half peak"
    )
    parser.add_argument("--contacts", action="store_true", help="one contact per company")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    run = new_run_id()
    print(f"end to end ({args.via}), run {run}: MongoDB {mongodb_uri()}; {machine_note()}")
    log_dir = Path(tempfile.mkdtemp(prefix=f"eci-bench-{run}-"))
    async with private_kafka() as bootstrap:
        await measure(args, bootstrap, run, log_dir)
    if args.keep_logs:
        print(f"  service logs in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
