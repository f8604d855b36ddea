"""What the benchmark scripts share: endpoints, unique names, records, timing and output.

The scripts measure side by side in one run and report ratios first: the machine has two cores
and other work runs on it, so absolute figures move from one run to the next, ratios much less.
Every loop is bounded by a count and by a time budget; everything a script creates (topics,
databases, a private broker) carries the run id and is removed at the end.
"""

import asyncio
import contextlib
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from eci_common.auth import Role, TokenIssuerSettings, mint_token
from eci_common.envelope import KafkaRecord, new_event, to_record
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.logging import configure_logging
from eci_common.settings import LogSettings
from eci_common.token_keys import generate_signing_key, write_jwks, write_signing_key

REPO = Path(__file__).resolve().parents[1]
# tests/support holds the process, endpoint and private-broker helpers the e2e tests use; the
# benchmarks start the services the same way, so they import it rather than copy it.
sys.path.insert(0, str(REPO / "tests"))

KIB = 1024


# The services a bench starts check bearer tokens and limit writes: they inherit the public key
# of a key pair made for the run (unless one is set) and no write limit, and the bench calls them
# as staff, signing with the private key.
if "AUTH_SIGNING_KEY_FILE" not in os.environ:
    _keys = Path(tempfile.mkdtemp(prefix="eci-bench-keys-"))
    _signing = generate_signing_key()
    write_signing_key(_keys / "signing-key.pem", _signing)
    write_jwks(_keys / "jwks.json", {"keys": [_signing.public_jwk]})
    os.environ["AUTH_SIGNING_KEY_FILE"] = str(_keys / "signing-key.pem")
    os.environ["AUTH_JWKS_FILE"] = str(_keys / "jwks.json")
os.environ.setdefault("HTTP_WRITE_RATE_LIMIT", "off")


def staff_headers() -> dict[str, str]:
    """`Authorization` for the services this bench started (signed with the run's key)."""
    token = mint_token(TokenIssuerSettings(), subject="bench", role=Role.STAFF, ttl_s=24 * 3600)
    return {"Authorization": f"Bearer {token}"}


def kafka_bootstrap() -> str:
    """The shared broker, unless the environment names another."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def mongodb_uri() -> str:
    """The shared MongoDB-wire server (FerretDB locally), unless the environment names another."""
    return os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]


# --- topics ---------------------------------------------------------------------------------


async def create_topics(bootstrap: str, topics: dict[str, int], **configs: str) -> None:
    """Creates each topic with its number of partitions (replication factor 1)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, partitions, 1, topic_configs=configs)
                for name, partitions in topics.items()
            ]
        )
    finally:
        await admin.close()
    # The new partitions need a moment to get a leader; a producer would retry, a timed loop
    # should not count that wait.
    await asyncio.sleep(1.0)


async def delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    if not topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    except Exception as exc:  # noqa: BLE001 - cleanup: say it, do not fail the run
        print(f"  (could not delete topics {list(topics)}: {exc!r})")
    finally:
        await admin.close()


# --- records --------------------------------------------------------------------------------


def kib_json(index: int, size: int = KIB) -> bytes:
    """A JSON document of exactly `size` bytes (a padded object)."""
    head = {"n": index, "at": datetime.now(UTC).isoformat(), "pad": ""}
    base = len(json.dumps(head, separators=(",", ":")).encode())
    head["pad"] = "x" * max(size - base, 0)
    body = json.dumps(head, separators=(",", ":")).encode()
    assert len(body) == size, len(body)
    return body


def kib_records(topic: str, count: int) -> list[KafkaRecord]:
    """`count` 1 KiB JSON records with distinct keys and no headers."""
    return [
        KafkaRecord(topic=topic, key=f"k-{index}", headers={}, body=kib_json(index))
        for index in range(count)
    ]


def company_records(topic: str, prefix: str, count: int) -> list[KafkaRecord]:
    """Real `CompanyRegistered` CloudEvents (about 1 KiB with their headers), sent to `topic`."""
    records = []
    for index in range(count):
        payload = CompanyRegisteredV1(
            company_id=f"{prefix}-{index}",
            version=1,
            legal_name=f"Manufacture horlogère d'essai numéro {index} du Haut-Doubs",
            siren=None,
            country="FR",
            region="Bourgogne-Franche-Comté",
            city="Morteau",
            website=f"https://manufacture-{index}.example",
            headcount_band="10-49",
            roles=["dial_maker", "component_maker", "subcontractor"],
            capabilities=["dials", "dials.enamel", "dials.guilloche", "cases", "finishing"],
            registered_at=datetime.now(UTC),
        )
        record = to_record(new_event(payload, source="/eci/bench"))
        records.append(replace(record, topic=topic))
    return records


def record_size(record: KafkaRecord) -> int:
    headers = sum(len(name) + len(value) for name, value in record.headers.items())
    return len(record.body) + len(record.key) + headers


# --- timing and output ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """`count` operations in `seconds`."""

    name: str
    count: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


class Budget:
    """A deadline for a bounded loop: stop early rather than run past the script's budget."""

    def __init__(self, seconds: float) -> None:
        self._deadline = time.perf_counter() + seconds

    @property
    def spent(self) -> bool:
        return time.perf_counter() >= self._deadline


def print_rates(title: str, rates: Sequence[Rate]) -> None:
    print(f"\n{title}")
    width = max(len(rate.name) for rate in rates)
    for rate in rates:
        print(
            f"  {rate.name:<{width}}  {rate.per_s:>9.1f} /s"
            f"   ({rate.count} in {rate.seconds:.2f} s)"
        )


def ratio_text(ratio: float) -> str:
    return f"{ratio:.0%}" if ratio < 2 else f"{ratio:.1f}x"


def print_ratio(
    name: str, numerator: Rate, denominator: Rate, target: float | None = None
) -> float:
    ratio = numerator.per_s / denominator.per_s if denominator.per_s else 0.0
    verdict = ""
    if target is not None:
        verdict = f"   target >= {target:.0%}: {'MET' if ratio >= target else 'MISSED'}"
    print(f"  RATIO {name}: {ratio_text(ratio)}{verdict}")
    return ratio


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values: Sequence[float]) -> str:
    if not values:
        return "no samples"
    ms = [value * 1000 for value in values]
    return (
        f"p50 {percentile(ms, 0.50):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms, "
        f"mean {statistics.fmean(ms):.1f} ms (n={len(ms)})"
    )


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process, from /proc; None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def machine_note() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"


# --- logging --------------------------------------------------------------------------------


def service_like_logging(level: str = "INFO") -> None:
    """The services' logging (structlog, JSON, INFO), rendered as in production but written to
    /dev/null: the library benchmarks pay the cost of every log line without flooding the
    terminal."""
    settings = LogSettings.model_validate({"log_level": level, "log_format": "json"})
    configure_logging(settings, service="bench")
    mute_logging()


def mute_logging() -> None:
    """Log lines are still rendered, then written to /dev/null."""
    sink = Path(os.devnull).open("w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)


# --- a private broker -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def private_kafka(partitions: dict[str, int] | None = None) -> AsyncIterator[str]:
    """A Kafka broker of our own on free ports (tests/support/private_kafka.py), with the
    declared topics; `partitions` overrides the partition count of some of them. Stopped and
    deleted at the end. Yields its bootstrap address."""
    from support.endpoints import declared_topics  # noqa: PLC0415 - after the sys.path line
    from support.private_kafka import PrivateKafka, can_run_private_broker  # noqa: PLC0415

    if not can_run_private_broker():
        raise SystemExit("a private broker needs java and mvn")
    state = Path(tempfile.mkdtemp(prefix="eci-bench-"))
    broker = PrivateKafka.create(state)
    started = time.perf_counter()
    await asyncio.to_thread(broker.start)
    print(
        f"  private broker on {broker.bootstrap} ({time.perf_counter() - started:.0f} s to start)"
    )
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(name, (partitions or {}).get(name, count), 1, topic_configs=configs)
                    for name, count, configs in declared_topics()
                ]
            )
        finally:
            await admin.close()
        await asyncio.sleep(1.0)
        yield broker.bootstrap
    finally:
        try:
            await asyncio.to_thread(broker.stop)
        except Exception as exc:  # noqa: BLE001 - then kill it
            print(f"  (private broker did not stop cleanly: {exc!r}; killing it)")
            await asyncio.to_thread(broker.kill)
        shutil.rmtree(state, ignore_errors=True)


async def drop_databases(uri: str, names: Sequence[str]) -> None:
    """Drops the databases a run created."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        for name in names:
            await client.drop_database(name)
    finally:
        await client.close()


# --- where the time goes --------------------------------------------------------------------


class Steps:
    """Wall-clock time per named step, summed (waits included). Steps timed as spans (the
    database commands) may overlap, the relay running several at once: a step's time is then the
    union of its spans, and `busy` is the union of every span, so that what remains of a wall
    clock is time when no command was in flight."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.spans: dict[str, list[tuple[float, float]]] = {}
        self._last = time.perf_counter()

    def add(self, step: str, seconds: float) -> None:
        self.seconds[step] = self.seconds.get(step, 0.0) + seconds
        self.calls[step] = self.calls.get(step, 0) + 1

    def span(self, step: str, started: float, ended: float) -> None:
        """A timed call from `started` to `ended` (perf_counter), perhaps beside others."""
        self.spans.setdefault(step, []).append((started, ended))
        self.calls[step] = self.calls.get(step, 0) + 1
        self.seconds[step] = _union(self.spans[step])

    def busy(self) -> float:
        """Seconds during which at least one span was in progress."""
        return _union([span for spans in self.spans.values() for span in spans])

    def restart(self) -> None:
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.add(step, now - self._last)
        self._last = now

    def merge(self, other: "Steps") -> None:
        for step, seconds in other.seconds.items():
            if step in other.spans:
                self.spans.setdefault(step, []).extend(other.spans[step])
                self.seconds[step] = _union(self.spans[step])
            else:
                self.seconds[step] = self.seconds.get(step, 0.0) + seconds
            self.calls[step] = self.calls.get(step, 0) + other.calls[step]

    def print(self, count: int, unit: str = "record") -> None:
        total = sum(self.seconds.values()) or 1.0
        for step, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            spans = self.spans.get(step, [])
            each = (
                sum(end - start for start, end in spans) / len(spans)
                if spans
                else seconds / self.calls[step]
            )
            overlap = " at once" if spans and _union(spans) < sum(e - s for s, e in spans) else ""
            print(
                f"    {step:<36} {seconds / count * 1000:7.2f} ms/{unit}  {seconds / total:4.0%}"
                f"  ({self.calls[step]} calls{overlap}, {each * 1000:.2f} ms each)"
            )


def _union(spans: Sequence[tuple[float, float]]) -> float:
    """The length of the union of intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def filter_shape(query: Any) -> str:
    """The top-level fields of a filter, `$in` marked: tells the relay's commands apart."""
    if not isinstance(query, dict):
        return ""
    fields = [
        f"{name} $in" if isinstance(value, dict) and "$in" in value else name
        for name, value in query.items()
    ]
    return "{" + ", ".join(sorted(fields)) + "}"


class TimedCursor:
    """A find cursor whose `to_list` adds its wall-clock time to `steps`."""

    def __init__(self, cursor: Any, steps: "Steps", step: str) -> None:
        self._cursor = cursor
        self._steps = steps
        self._step = step

    def limit(self, count: int) -> "TimedCursor":
        self._cursor = self._cursor.limit(count)
        return self

    async def to_list(self, length: int | None = None) -> list[Any]:
        started = time.perf_counter()
        try:
            return list(await self._cursor.to_list(length))
        finally:
            self._steps.span(self._step, started, time.perf_counter())


class TimedCollection:
    """A collection whose awaited methods (and `find(...).to_list()`) add their wall-clock time
    to `steps`, named with the filter's shape (for the relay, which takes its collections as
    arguments)."""

    def __init__(self, collection: Any, steps: Steps, label: str = "") -> None:
        self._collection = collection
        self._steps = steps
        self._label = label

    def find(self, query: Any = None, *args: Any, **kwargs: Any) -> TimedCursor:
        step = f"{self._label}find {filter_shape(query)}"
        return TimedCursor(self._collection.find(query, *args, **kwargs), self._steps, step)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._collection, name)
        if not asyncio.iscoroutinefunction(attribute):
            return attribute

        async def timed(*args: Any, **kwargs: Any) -> Any:
            step = f"{self._label}{name} {filter_shape(args[0] if args else None)}".rstrip()
            started = time.perf_counter()
            try:
                return await attribute(*args, **kwargs)
            finally:
                self._steps.span(step, started, time.perf_counter())

        return timed
