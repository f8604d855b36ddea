"""Profile of the consumer's hot path, with cProfile (standard library) and PyMongo's command
monitoring (how long each database command took, as the driver saw it).

    uv run python bench/profile_hot_path.py [--target notifications|library|relay] [--events N]

- `notifications` (default): the notifications application itself (`create_app`, its lifespan
  run in this process, no HTTP server) consumes `--events` CompanyRegistered records and stores
  the staff notifications, on a Kafka broker of its own (the service's topic names are fixed).
  This is the real hot path: the idempotent consumer, the read model, the rule, the templates,
  the insert, and what runs beside them in the process (delivery worker, outbox relay).
- `library`: `EventConsumer` + `ProcessedEvents` + a one-insert handler (as in backbone.py), on
  a topic of this run on the shared broker.
- `relay`: `OutboxRelay.drain()` (as in backbone.py) over `--events` outbox entries, one per
  aggregate (`--per-aggregate` to change), on a topic of this run on the shared broker.

Prints the rate (slowed by the profiler), the top functions by cumulative and by own time, and
the database commands by total time.
"""

import argparse
import asyncio
import cProfile
import io
import logging
import pstats
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from backbone import fill_outboxes, kafka_settings, raw_produce, run_event_consumer
from harness import (
    company_records,
    create_topics,
    delete_topics,
    drop_databases,
    kafka_bootstrap,
    machine_note,
    mongodb_uri,
    mute_logging,
    new_run_id,
    private_kafka,
    service_like_logging,
)
from pymongo import AsyncMongoClient, monitoring

from eci_common import topics
from eci_common.kafka import BrokerPublisher, create_broker
from eci_common.locks import DocumentLocks
from eci_common.outbox import OutboxRelay
from eci_common.settings import OutboxSettings
from eci_notifications.main import create_app
from eci_notifications.settings import Settings


@dataclass
class CommandTimes(monitoring.CommandListener):
    """Duration of every database command, by command and collection."""

    totals: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _pending: dict[int, str] = field(default_factory=dict)
    recording: bool = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        collection = command.get(event.command_name)
        name = f"{event.command_name} {collection if isinstance(collection, str) else ''}"
        # Which query: the filter's top-level fields tell the callers apart.
        updates: list[dict[str, Any]] = command.get("updates") or [{}]
        query = command.get("filter") or updates[0].get("q")
        if isinstance(query, dict):
            name += " {" + ",".join(sorted(query)) + "}"
        self._pending[event.request_id] = name.strip()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._finish(event.request_id, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._finish(event.request_id, event.duration_micros)

    def _finish(self, request_id: int, micros: int) -> None:
        name = self._pending.pop(request_id, "?")
        if self.recording:
            self.totals[name].append(micros / 1e6)

    def print(self, events: int) -> None:
        print(f"\nDatabase commands, as the driver timed them ({events} events)")
        rows = sorted(self.totals.items(), key=lambda item: -sum(item[1]))
        for name, durations in rows[:15]:
            total = sum(durations)
            print(
                f"  {name:<64} {len(durations):5d} calls {total:6.2f} s "
                f"{total / len(durations) * 1000:7.2f} ms each  "
                f"{total / events * 1000:7.2f} ms/event"
            )


OURS = r"eci_common|eci_notifications|structlog|pydantic|pymongo/asynchronous/collection|faststream"


def _top(profile: cProfile.Profile, order: str, title: str, restrict: str | None = None) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    if restrict is None:
        stats.strip_dirs()
    stats.sort_stats(order).print_stats(*((restrict,) if restrict else ()), 15)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    print(f"\n{title}")
    for line in lines[start : start + 16]:
        print(_short(line))


def _short(line: str) -> str:
    """A path shortened to what follows site-packages/ or src/."""
    for marker in ("site-packages/", "/src/"):
        if marker in line:
            return (
                line[: line.rfind(" ", 0, line.find(marker)) + 1]
                + line.rsplit(marker, maxsplit=1)[-1]
            )
    return line


def print_profile(profile: cProfile.Profile) -> None:
    """Coroutines: a frame's time counts only while it runs, not while it awaits, so
    cumulative time is CPU spent in that call tree; waiting shows up as `epoll.poll`."""
    _top(profile, "cumulative", "Top 15 functions by cumulative time")
    _top(profile, "tottime", "Top 15 functions by own time")
    _top(
        profile,
        "cumulative",
        "Top 15 of our code, pydantic, structlog and PyMongo's collection API, by cumulative time",
        OURS,
    )


class Notified(logging.Filter):
    """Counts the service's `notified` log lines (one per stored staff notification here): no
    database query, so the measurement does not load the server being measured."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict) and record.msg.get("event") == "notified":
            self.count += 1
        return True


async def produce_all(bootstrap: str, topic: str, run: str, count: int) -> None:
    records = company_records(topic, f"profile-{run}", count)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [
            await producer.send(
                r.topic,
                r.body,
                key=r.key.encode(),
                headers=[(name, value.encode()) for name, value in r.headers.items()],
            )
            for r in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def profile_notifications(events: int, commands: CommandTimes) -> None:
    run = new_run_id()
    database = f"bench_{run}_profile"
    async with private_kafka() as bootstrap:
        settings = Settings(
            kafka_bootstrap_servers=bootstrap,
            mongodb_uri=mongodb_uri(),
            mongodb_database=database,
            consumer_group=f"bench-{run}-profile",
            http_port=0,
            outbox_poll_interval_s=0.2,  # as the e2e tests and end_to_end.py run it
        )
        app = create_app(settings)
        notified = Notified()
        try:
            async with app.router.lifespan_context(app):
                mute_logging()  # as the lifespan configured it, but to /dev/null
                for handler in logging.getLogger().handlers:
                    handler.addFilter(notified)
                await asyncio.sleep(3)  # the group's join
                profile = cProfile.Profile()
                commands.recording = True
                started = time.perf_counter()
                profile.enable()
                await produce_all(bootstrap, topics.REGISTRY_COMPANIES, run, events)
                halfway = 0.0
                deadline = time.monotonic() + 150
                while (stored := notified.count) < events:
                    if not halfway and stored >= events // 2:
                        halfway = time.perf_counter() - started
                    if time.monotonic() > deadline:
                        print(f"  ({stored}/{events} stored when the time ran out)")
                        break
                    await asyncio.sleep(0.05)
                profile.disable()
                commands.recording = False
                elapsed = time.perf_counter() - started
        finally:
            await drop_databases(mongodb_uri(), [database])
    print(
        f"\nnotifications under cProfile: {events} events in {elapsed:.1f} s = "
        f"{events / elapsed:.1f} /s (first half {events / 2 / halfway:.1f} /s, "
        f"second half {events / 2 / (elapsed - halfway):.1f} /s)"
    )
    print_profile(profile)
    commands.print(events)


async def profile_library(events: int, commands: CommandTimes) -> None:
    run = new_run_id()
    bootstrap = kafka_bootstrap()
    topic = f"bench.{run}.profile"
    await create_topics(bootstrap, {topic: 3})
    await raw_produce(bootstrap, company_records(topic, "p", events), pipelined=True, warm_up=False)
    service_like_logging()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_uri(), tz_aware=True)
    database = f"bench_{run}_profile"
    profile = cProfile.Profile()
    try:
        commands.recording = True
        profile.enable()
        rate = await run_event_consumer(
            bootstrap,
            client[database],
            topic=topic,
            group=f"bench-{run}",
            expect=events,
            limit_s=120,
        )
        profile.disable()
        commands.recording = False
    finally:
        await client.drop_database(database)
        await client.close()
        await delete_topics(bootstrap, [topic])
    print(
        f"\nEventConsumer under cProfile: {rate.per_s:.1f} /s "
        f"({rate.count} in {rate.seconds:.1f} s)"
    )
    print_profile(profile)
    commands.print(events)


async def profile_relay(events: int, per_aggregate: int, commands: CommandTimes) -> None:
    run = new_run_id()
    bootstrap = kafka_bootstrap()
    topic = f"bench.{run}.relay-profile"
    await create_topics(bootstrap, {topic: 3})
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_uri(), tz_aware=True)
    database = f"bench_{run}_relay_profile"
    broker = create_broker(kafka_settings(bootstrap), client_id="bench-relay", graceful_timeout=5)
    records = company_records(topic, "relay", events)
    profile = cProfile.Profile()
    try:
        collection = client[database]["aggregates"]
        await fill_outboxes(collection, records, per_aggregate, published=0)
        await broker.start()
        relay = OutboxRelay(
            [collection], BrokerPublisher(broker), OutboxSettings(), DocumentLocks()
        )
        commands.recording = True
        started = time.perf_counter()
        profile.enable()
        sent = await relay.drain()
        profile.disable()
        elapsed = time.perf_counter() - started
        commands.recording = False
    finally:
        await broker.stop()
        await client.drop_database(database)
        await client.close()
        await delete_topics(bootstrap, [topic])
    print(
        f"\nOutboxRelay.drain under cProfile: {sent} events ({per_aggregate} per aggregate) in "
        f"{elapsed:.2f} s = {sent / elapsed:.1f} /s"
    )
    print_profile(profile)
    commands.print(sent)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--target", choices=("notifications", "library", "relay"), default="notifications"
    )
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--per-aggregate", type=int, default=1, help="relay: events per document")
    args = parser.parse_args()
    print(f"profile of the {args.target} hot path; {machine_note()}")
    commands = CommandTimes()
    monitoring.register(commands)  # every client created from now on reports to it
    if args.target == "notifications":
        await profile_notifications(args.events, commands)
    elif args.target == "relay":
        await profile_relay(args.events, args.per_aggregate, commands)
    else:
        await profile_library(args.events, commands)


if __name__ == "__main__":
    asyncio.run(main())
