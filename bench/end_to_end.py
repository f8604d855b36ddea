"""End to end: registrations through the registry's REST API to stored staff notifications.

    uv run python bench/end_to_end.py [--peak-events N] [--concurrency C] [--half-s S]

The three services run as processes (tests/support/services.py), on databases and consumer
groups of this run, against a Kafka broker of the run's own (tests/support/private_kafka.py):
the services' topics have fixed names, and thousands of registrations left on the shared
broker's `eci.registry.companies` (kept forever) would be read again by every later test's
fresh consumer group. The database is the shared FerretDB.

1. Peak: `--concurrency` clients POST /companies as fast as the registry answers, up to
   `--peak-events` registrations; the end-to-end rate is registrations / (last notification
   stored - first POST sent). The registry's own acceptance rate is printed too.
2. Half of the peak: POSTs sent open-loop at half that rate for `--half-s` seconds; each
   latency runs from just before the POST to the moment notifications stored the staff
   notification. That moment is the timestamp of the notifications service's `notified` log
   line (logged after the insert) for the POST's correlation id: the stored document's
   `created_at` is the event's time, set by the registry, not the time it was stored, and
   polling FerretDB finely enough would load the server being measured.
3. Resident memory of each process, sampled every 0.5 s throughout.

The database is then checked: one staff notification per registration.
"""

import argparse
import asyncio
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fleet import MemoryWatch, log_times, now, start_service, stop_all, wait_all_ready
from harness import (
    Rate,
    drop_databases,
    machine_note,
    mongodb_uri,
    new_run_id,
    print_rates,
    print_ratio,
    private_kafka,
    staff_headers,
    summary_ms,
)
from pymongo import AsyncMongoClient

from support.endpoints import Endpoints
from support.services import ServiceProcess

NAMES = ("registry", "projects", "notifications")
P99_TARGET_S = 0.100


@dataclass
class Registrations:
    """POSTs sent by this run: when each left, when its answer came, by correlation id."""

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

    async def post(self, client: httpx.AsyncClient, phase: str, index: int) -> None:
        correlation = f"bench-{self.run}-{phase}-{index}"
        self.sent[correlation] = now()
        response = await client.post(
            "/companies", json=self.body(index), headers={"X-Correlation-ID": correlation}
        )
        if response.status_code != 201:
            self.failures += 1
            self.sent.pop(correlation)
            if self.failures <= 3:
                print(f"  POST failed: {response.status_code} {response.text[:200]}")
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
    client: httpx.AsyncClient,
    registrations: Registrations,
    notifications: list[ServiceProcess],
    *,
    events: int,
    concurrency: int,
    budget_s: float,
) -> tuple[Rate, Rate]:
    """Closed loop: `concurrency` clients POST until `events` or the budget is spent."""
    counter = iter(range(events))
    deadline = time.monotonic() + budget_s

    async def worker() -> None:
        for index in counter:
            if time.monotonic() >= deadline:
                return
            await registrations.post(client, "peak", index)

    started = now()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    accepted = now() - started
    keys = registrations.of_phase("peak")
    times = await wait_stored(notifications, keys, 120)
    done = [times[key] for key in keys if key in times]
    api = Rate(f"registry accepts POST /companies (C={concurrency})", len(keys), accepted)
    end_to_end = Rate("POST -> staff notification stored", len(done), max(done) - started)
    return api, end_to_end


async def half_peak(
    client: httpx.AsyncClient,
    registrations: Registrations,
    registry: ServiceProcess,
    notifications: list[ServiceProcess],
    *,
    rate: float,
    seconds: float,
) -> list[float]:
    """Open loop: one POST every 1/rate s, whatever the answers do; the latencies."""
    count = max(int(rate * seconds), 10)
    started = time.monotonic()
    tasks = []
    for index in range(count):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(registrations.post(client, "half", index)))
    await asyncio.gather(*tasks)
    keys = registrations.of_phase("half")
    times = await wait_stored(notifications, keys, 60)
    api = [registrations.answered[key] - registrations.sent[key] for key in keys]
    print(f"  POST answered (client side):          {summary_ms(api)}")
    registered = log_times([registry.log_path], "company_registered")
    relay_and_consumer = [
        times[key] - registered[key] for key in keys if key in times and key in registered
    ]
    print(f"  registered -> notified (service logs): {summary_ms(relay_and_consumer)}")
    return [times[key] - registrations.sent[key] for key in keys if key in times]


def where_they_stopped(processes: list[ServiceProcess], keys: list[str]) -> None:
    """How far the registrations went, stage by stage, from the services' logs: when the
    consumers of both groups miss the same ones, the registry's relay did not publish them."""
    registry, projects, notifications = processes
    stages = (
        ("registered (registry)", registry, "company_registered"),
        ("handled by projects", projects, "event_handled"),
        ("handled by notifications", notifications, "event_handled"),
        ("notified (notifications)", notifications, "notified"),
    )
    print("  where the registrations stopped:")
    for label, process, event in stages:
        seen = log_times([process.log_path], event)
        print(f"    {label:<26} {sum(1 for key in keys if key in seen)} of {len(keys)}")
    for process in processes:
        print(f"  last lines of {process.log_path}:")
        for line in process.log_tail(5).splitlines():
            print(f"    {line[:300]}")


async def count_staff(uri: str, database: str, run: str) -> int:
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
    try:
        documents = client[database]["notifications"].find(
            {"recipient": "staff"}, {"correlation_id": 1}
        )
        count = 0
        async for document in documents:
            count += str(document.get("correlation_id", "")).startswith(f"bench-{run}-")
        return count
    finally:
        await client.close()


async def measure(args: argparse.Namespace, bootstrap: str, run: str, log_dir: Path) -> None:
    endpoints = Endpoints(bootstrap, mongodb_uri(), "bench")
    processes = [start_service(name, endpoints, run, log_dir) for name in NAMES]
    watch = MemoryWatch(processes)
    try:
        await wait_all_ready(processes)
        watch.start()
        registry, notifications = processes[0], [processes[2]]
        registrations = Registrations(run, args.contacts)
        limits = httpx.Limits(max_connections=args.concurrency * 4)
        async with httpx.AsyncClient(
            base_url=registry.url, timeout=30, limits=limits, headers=staff_headers()
        ) as client:
            for index in range(10):  # warm-up: group joins, first inserts, connections
                await registrations.post(client, "warm", index)
            await wait_stored(notifications, registrations.of_phase("warm"), 60)
            api, end_to_end = await peak(
                client,
                registrations,
                notifications,
                events=args.peak_events,
                concurrency=args.concurrency,
                budget_s=args.peak_s,
            )
            print_rates("Peak (closed loop)", [api, end_to_end])
            print_ratio("end to end / registry API", end_to_end, api)
            half = end_to_end.per_s / 2
            print(f"\nHalf of the peak: {half:.1f} registrations/s, open loop, {args.half_s:.0f} s")
            latencies = await half_peak(
                client, registrations, registry, notifications, rate=half, seconds=args.half_s
            )
        print(f"  POST -> staff notification stored:    {summary_ms(latencies)}")
        if latencies:
            p99 = sorted(latencies)[max(0, round(0.99 * len(latencies) + 0.5) - 1)]
            verdict = "MET" if p99 <= P99_TARGET_S else "MISSED"
            print(f"  p99 {p99 * 1000:.1f} ms, target <= 100 ms: {verdict}")
        watch.sample()
        await watch.stop()
        watch.print()
        stored = await count_staff(mongodb_uri(), processes[2].database, run)
        print(
            f"\nCheck: {stored} staff notifications stored for {len(registrations.sent)} "
            f"registrations accepted ({registrations.failures} POSTs failed)"
        )
        if stored < len(registrations.sent):
            args.keep_logs = True  # what went missing is for a person to read
            where_they_stopped(processes, list(registrations.sent))
    finally:
        await watch.stop()
        stop_all(processes)
        await drop_databases(mongodb_uri(), [process.database for process in processes])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peak-events", type=int, default=200)
    parser.add_argument("--peak-s", type=float, default=25.0, help="budget for the POSTs")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--half-s", type=float, default=20.0)
    parser.add_argument("--contacts", action="store_true", help="one contact per company")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    run = new_run_id()
    print(f"end to end, run {run}: MongoDB {mongodb_uri()}; {machine_note()}")
    log_dir = Path(tempfile.mkdtemp(prefix=f"eci-bench-{run}-"))
    async with private_kafka() as bootstrap:
        await measure(args, bootstrap, run, log_dir)
    if args.keep_logs:
        print(f"  service logs in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
