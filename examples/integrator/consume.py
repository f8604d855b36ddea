"""An integrator's consumer of the ECI public topics, with confluent-kafka (librdkafka).

It uses none of the platform's Python code, as an integrator writing in any language would. It
reads the topic list from the published AsyncAPI document (`docs/asyncapi.json`), and it checks
every record against the published JSON Schemas (`contracts/envelope/kafka-headers.json` for the
headers, `contracts/events/<ce_type>.json` for the body) with `jsonschema`. It deduplicates on
`ce_source` + `ce_id`, because delivery is at least once, and prints a summary: counts per event
type, duplicates, and every invalid record with the reason.

    python examples/integrator/consume.py --bootstrap-servers 127.0.0.1:9092

By default it reads from the beginning with a fresh consumer group, and stops once it has caught
up with every partition. `--follow` keeps it running.
"""

import argparse
import json
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from jsonschema import Draft202012Validator, FormatChecker

REPO: Final = Path(__file__).resolve().parents[2]
CONTRACTS: Final = REPO / "libs" / "common" / "src" / "eci_common" / "contracts"
ASYNCAPI: Final = REPO / "docs" / "asyncapi.json"

# RFC 3339 date-time, as JSON Schema defines the format: the offset is mandatory. jsonschema only
# checks `date-time` when an optional package is installed, so check it here.
_RFC3339: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True  # `type` deals with non-strings
    if not _RFC3339.match(instance):
        return False
    try:
        datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("date-time")(_is_date_time)
    return checker


class Contracts:
    """The published schemas: one for the headers, one per event type for the body."""

    def __init__(self, directory: Path = CONTRACTS) -> None:
        checker = _format_checker()
        envelope = json.loads((directory / "envelope" / "kafka-headers.json").read_text("utf-8"))
        self.headers = Draft202012Validator(envelope, format_checker=checker)
        self.bodies = {
            path.stem: Draft202012Validator(
                json.loads(path.read_text("utf-8")), format_checker=checker
            )
            for path in sorted((directory / "events").glob("*.json"))
        }

    def problem(self, headers: dict[str, str], body: bytes | None) -> str | None:
        """Why a record is invalid, or None if its headers and body match their schemas."""
        errors = sorted(self.headers.iter_errors(headers), key=lambda error: error.json_path)
        if errors:
            return "headers: " + "; ".join(f"{e.json_path}: {e.message}" for e in errors[:3])
        event_type = headers["ce_type"]
        validator = self.bodies.get(event_type)
        if validator is None:
            return f"no published schema for event type {event_type!r}"
        try:
            document = json.loads(body or b"")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return f"body is not JSON: {exc}"
        errors = sorted(validator.iter_errors(document), key=lambda error: error.json_path)
        if errors:
            return "body: " + "; ".join(f"{e.json_path}: {e.message}" for e in errors[:3])
        return None


def public_topics(asyncapi: Path = ASYNCAPI) -> list[str]:
    """The topics of the published AsyncAPI document: its channels' addresses."""
    document = json.loads(asyncapi.read_text("utf-8"))
    return sorted(channel["address"] for channel in document["channels"].values())


@dataclass(frozen=True)
class Outcome:
    """What became of one record."""

    topic: str
    partition: int
    offset: int
    headers: dict[str, str]
    problem: str | None  # None: valid
    duplicate: bool

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass
class Summary:
    """Counts of a run: valid records per event type, duplicates, invalid records."""

    per_type: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)

    @property
    def records(self) -> int:
        return sum(self.per_type.values()) + self.duplicates + len(self.invalid)

    def add(self, outcome: Outcome) -> None:
        if outcome.problem is not None:
            self.invalid.append((outcome.where, outcome.problem))
        elif outcome.duplicate:
            self.duplicates += 1
        else:
            self.per_type[outcome.headers["ce_type"]] += 1

    def render(self) -> str:
        lines = [
            f"{self.records} record(s): {sum(self.per_type.values())} valid, "
            f"{self.duplicates} duplicate(s) skipped, {len(self.invalid)} invalid"
        ]
        lines += [f"  {count:6d}  {name}" for name, count in sorted(self.per_type.items())]
        if self.invalid:
            lines.append("invalid records:")
            lines += [f"  {where}: {reason}" for where, reason in self.invalid]
        return "\n".join(lines)


def _headers_of(message: Message) -> dict[str, str]:
    # Kafka header values are bytes; ours are UTF-8 text. A header that is not is reported by
    # the schema check (its value is kept as a repr, which no pattern of ours accepts).
    raw = message.headers() or []
    # A consumed record has a list of (name, bytes) pairs; the type also allows a dict.
    pairs = list(raw.items()) if isinstance(raw, dict) else list(raw)
    decoded: dict[str, str] = {}
    for name, value in pairs:
        if isinstance(value, str):
            decoded[name] = value
            continue
        try:
            decoded[name] = (value or b"").decode("utf-8")
        except UnicodeDecodeError:
            decoded[name] = repr(value)
    return decoded


def consume(
    bootstrap_servers: str,
    *,
    topics: Sequence[str] | None = None,
    group_id: str | None = None,
    contracts: Contracts | None = None,
    follow: bool = False,
    timeout_s: float = 60.0,
    on_record: Callable[[Outcome], None] | None = None,
    extra_config: dict[str, Any] | None = None,
) -> Summary:
    """Read the topics from the beginning, check and deduplicate every record; the summary.

    Without `follow`, stops once every assigned partition has been read to its end (or after
    `timeout_s`, raising `TimeoutError`). `on_record` sees every outcome, for callers that want
    more than counts. Offsets are stored only after a record is handled: at least once.
    """
    contracts = contracts or Contracts()
    topics = list(topics or public_topics())
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            # A fresh group has no committed offset, so `earliest` means the whole history.
            # Integrator accounts may use only groups named with their prefix (`integrator-`).
            "group.id": group_id or f"integrator-example-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            # Commit in the background only what was stored, and store after handling.
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            **(extra_config or {}),
        }
    )
    assigned: set[tuple[str, int]] = set()
    at_end: set[tuple[str, int]] = set()

    def on_assign(_: Consumer, partitions: list[TopicPartition]) -> None:
        assigned.update((p.topic, p.partition) for p in partitions)

    def on_revoke(_: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            assigned.discard((p.topic, p.partition))
            at_end.discard((p.topic, p.partition))

    consumer.subscribe(topics, on_assign=on_assign, on_revoke=on_revoke)
    summary = Summary()
    seen: set[tuple[str, str]] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while follow or not assigned or not assigned <= at_end:
            if not follow and time.monotonic() > deadline:
                raise TimeoutError(f"not caught up after {timeout_s}s: {summary.render()}")
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end.add((message.topic() or "", message.partition() or 0))
                    continue
                raise KafkaException(error)
            partition = (message.topic() or "", message.partition() or 0)
            at_end.discard(partition)
            headers = _headers_of(message)
            problem = contracts.problem(headers, message.value())
            identity = (headers.get("ce_source", ""), headers.get("ce_id", ""))
            duplicate = problem is None and identity in seen
            seen.add(identity)
            outcome = Outcome(
                topic=partition[0],
                partition=partition[1],
                offset=message.offset() or 0,
                headers=headers,
                problem=problem,
                duplicate=duplicate,
            )
            summary.add(outcome)
            if on_record is not None:
                on_record(outcome)
            consumer.store_offsets(message=message)
    finally:
        consumer.close()  # commits the stored offsets and leaves the group
    return summary


def security_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """librdkafka login settings from the environment: `KAFKA_SECURITY_PROTOCOL` (`SASL_SSL` or
    `SASL_PLAINTEXT`), `KAFKA_SASL_MECHANISM` (default `SCRAM-SHA-512`), `KAFKA_SASL_USERNAME`,
    `KAFKA_SASL_PASSWORD`; nothing for `PLAINTEXT` (a local run)."""
    env = os.environ if environ is None else environ
    protocol = env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol == "PLAINTEXT":
        return {}
    return {
        "security.protocol": protocol,
        "sasl.mechanism": env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        "sasl.username": env["KAFKA_SASL_USERNAME"],
        "sasl.password": env["KAFKA_SASL_PASSWORD"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; exit status 1 if any record was invalid."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092",
    )
    parser.add_argument("--group", help="consumer group (default: a fresh one, from the start)")
    parser.add_argument(
        "--topic", action="append", help="topic to read, repeatable (default: the public topics)"
    )
    parser.add_argument("--contracts", type=Path, default=CONTRACTS, help="schemas folder")
    parser.add_argument("--follow", action="store_true", help="keep reading; stop with Ctrl-C")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to catch up")
    args = parser.parse_args(argv)
    try:
        summary = consume(
            args.bootstrap_servers,
            topics=args.topic,
            group_id=args.group,
            contracts=Contracts(args.contracts),
            follow=args.follow,
            timeout_s=args.timeout,
            extra_config=security_config(),
        )
    except KeyboardInterrupt:
        return 130
    sys.stdout.write(summary.render() + "\n")
    return 1 if summary.invalid else 0


if __name__ == "__main__":
    raise SystemExit(main())
