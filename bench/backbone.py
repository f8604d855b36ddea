"""Backbone: our outbox relay and our idempotent consumer against the raw clients, in one run.

    uv run python bench/backbone.py [--events N] [--consume N] [--rounds R]

(a) Relay: `eci_common.outbox.OutboxRelay` with `BrokerPublisher` over
    `eci_common.kafka.create_broker` drains the outboxes of N aggregates (one event each, then
    four events each) in batches of `--batch` documents (its default `outbox_batch_size`),
    against raw aiokafka produce of the same records: one by one (`send_and_wait`) and
    pipelined (all sent, then every acknowledgement gathered: what the relay now does with the
    records of a batch). `BrokerPublisher` alone (FastStream publish, no database) separates
    FastStream's cost from the outbox's. Every case runs once a round, alternating.
(b) Consumer: `eci_common.consumer.EventConsumer` on a FastStream broker, with the real
    idempotency record (`ProcessedEvents`) and a handler that inserts one document per event,
    against two raw aiokafka consumer + PyMongo loops doing that work by hand:
    - batched, as the library now works (the target): `getmany` of up to
      `consumer_batch_max_records` records (waiting `consumer_batch_wait_ms`, both the
      `ConsumerSettings` defaults), then per record in order the idempotency lookup (skipped for
      an event already in the batch), pydantic validation and the effect's insert; after the
      batch one unordered `insert_many` of its idempotency records and one offset commit;
    - per record, as the library worked before (the reference of earlier runs): `getone`,
      idempotency lookup, validation and effect, idempotency record, commit, for each record.
    A side's rate runs from its first record's work to the moment its last record is done. For
    the library and the batched loop alike a record is done once its batch's idempotency
    records are stored: the library's offset commit then happens inside FastStream, out of
    sight, so only the last batch's commit falls outside the window, on both sides. For the
    per-record loop a record is done once its offset is committed. The three alternate for
    `--rounds` rounds on the same records (a fresh group and database each time), so that a
    burst of the machine's other work does not land on one side only.

Both run against the shared broker and database, on topics and databases of this run, removed
at the end. The services log every event at INFO: so does the consumer here (rendered, then
written to /dev/null).
"""

import argparse
import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from harness import (
    Rate,
    Steps,
    TimedCollection,
    company_records,
    create_topics,
    delete_topics,
    kafka_bootstrap,
    machine_note,
    mongodb_uri,
    new_run_id,
    print_rates,
    print_ratio,
    record_size,
    service_like_logging,
)
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError

from eci_common.consumer import EventConsumer
from eci_common.envelope import Event, EventMetadata, KafkaRecord
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.idempotency import ProcessedEvents
from eci_common.kafka import BrokerPublisher, create_broker
from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, Document
from eci_common.outbox import OutboxRelay, ensure_outbox_indexes
from eci_common.settings import ConsumerSettings, KafkaSettings, OutboxSettings

PARTITIONS = 3
PIPELINE = 500
# The library's batches, as `EventConsumer` reads them by default; the batched raw loop reads
# the same.
BATCH_RECORDS: int = ConsumerSettings.model_fields["consumer_batch_max_records"].default
BATCH_WAIT_MS: int = ConsumerSettings.model_fields["consumer_batch_wait_ms"].default
DUPLICATE_KEY = 11000  # MongoDB's duplicate-key error code


def kafka_settings(bootstrap: str) -> KafkaSettings:
    return KafkaSettings.model_validate({"kafka_bootstrap_servers": bootstrap})


# --- (a) the relay --------------------------------------------------------------------------


def _headers(record: KafkaRecord) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in record.headers.items()]


async def raw_produce(
    bootstrap: str, records: list[KafkaRecord], *, pipelined: bool, warm_up: bool = True
) -> Rate:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        if warm_up:  # the producer's first request (metadata, producer id), not counted
            await producer.send_and_wait(records[0].topic, b"{}", key=b"warm-up")
        started = time.perf_counter()
        if pipelined:
            for start in range(0, len(records), PIPELINE):
                futures = [
                    await producer.send(r.topic, r.body, key=r.key.encode(), headers=_headers(r))
                    for r in records[start : start + PIPELINE]
                ]
                await asyncio.gather(*futures)
        else:
            for r in records:
                await producer.send_and_wait(
                    r.topic, r.body, key=r.key.encode(), headers=_headers(r)
                )
        name = f"raw aiokafka, pipelined ({PIPELINE})" if pipelined else "raw aiokafka, one by one"
        return Rate(name, len(records), time.perf_counter() - started)
    finally:
        await producer.stop()


async def broker_publish(bootstrap: str, records: list[KafkaRecord]) -> Rate:
    """`BrokerPublisher` alone: FastStream's publish, one acknowledged record at a time."""
    broker = create_broker(kafka_settings(bootstrap), client_id="bench-publish", graceful_timeout=5)
    await broker.start()
    try:
        publisher = BrokerPublisher(broker)
        await publisher.publish(replace(records[0], body=b"{}"))  # warm-up, not counted
        started = time.perf_counter()
        for record in records:
            await publisher.publish(record)
        elapsed = time.perf_counter() - started
        return Rate("BrokerPublisher (FastStream), no db", len(records), elapsed)
    finally:
        await broker.stop()


def _entry(record: KafkaRecord) -> Document:
    """An outbox entry as `eci_common.outbox.outbox_entries` stores it."""
    return {
        "id": record.headers["ce_id"],
        "topic": record.topic,
        "key": record.key,
        "headers": record.headers,
        "body": record.body.decode(),
    }


async def fill_outboxes(
    collection: Collection, records: list[KafkaRecord], per_aggregate: int, published: int
) -> int:
    """`published` aggregates whose outbox is already empty (inserted first, as older documents
    are), then one document per new aggregate with its events in its outbox, as the
    repositories write them. Returns the number of aggregates with pending events."""
    await ensure_outbox_indexes(collection)
    profile = {"legal_name": "Manufacture d'essai", "city": "Morteau", "pad": "x" * 600}
    for start in range(0, published, PIPELINE):
        await collection.insert_many(
            [
                {"_id": f"old-{index}", "version": 1, **profile, "outbox": []}
                for index in range(start, min(start + PIPELINE, published))
            ]
        )
    documents = [
        {
            "_id": f"new-{start}",
            "version": per_aggregate,
            **profile,
            "outbox": [_entry(r) for r in records[start : start + per_aggregate]],
        }
        for start in range(0, len(records), per_aggregate)
    ]
    await collection.insert_many(documents)
    return len(documents)


async def relay_drain(
    bootstrap: str,
    collection: Collection,
    records: list[KafkaRecord],
    *,
    per_aggregate: int,
    batch: int,
    published: int = 0,
    steps: Steps | None = None,
) -> Rate:
    """`OutboxRelay.drain()` over a collection holding `published` + the new aggregates;
    `steps`, when given, collects the time of each database command, and puts the rest of the
    wall clock (queueing the records, waiting for their acknowledgements, Python) under
    "publish"."""
    aggregates = await fill_outboxes(collection, records, per_aggregate, published)
    broker = create_broker(kafka_settings(bootstrap), client_id="bench-relay", graceful_timeout=5)
    await broker.start()
    try:
        publisher = BrokerPublisher(broker)
        await publisher.publish(replace(records[0], body=b"{}"))  # warm-up, not counted
        own = Steps()
        watched = cast(Collection, TimedCollection(collection, own, "mongo "))
        relay = OutboxRelay(
            [watched],
            publisher,
            OutboxSettings(outbox_poll_interval_s=0.2, outbox_lease_s=90, outbox_batch_size=batch),
            DocumentLocks(),
        )
        started = time.perf_counter()
        sent = await relay.drain()
        elapsed = time.perf_counter() - started
        assert sent == len(records), (sent, len(records))
        # What no database command overlapped: queueing, acknowledgements, Python.
        own.add("publish: queue, acknowledgements, Python", elapsed - own.busy())
        if steps is not None:
            steps.merge(own)
        name = f"OutboxRelay.drain, {per_aggregate} event(s)/aggregate"
        if published:
            name += f", {aggregates} new among {published + aggregates} documents"
        return Rate(name, sent, elapsed)
    finally:
        await broker.stop()


async def bench_relay(
    bootstrap: str,
    client: AsyncMongoClient[Any],
    run: str,
    *,
    events: int,
    rounds: int,
    old: int,
    batch: int,
) -> None:
    topic = f"bench.{run}.relay"
    await create_topics(bootstrap, {topic: PARTITIONS})
    database = client[f"bench_{run}_relay"]
    sample = company_records(topic, "size", 1)[0]
    print(
        f"\n(a) relay: {events} CompanyRegistered records of {record_size(sample)} bytes a round, "
        f"{rounds} alternating rounds; topic with {PARTITIONS} partitions; relay batches of "
        f"{batch} documents"
    )
    results: dict[str, list[Rate]] = {}
    # Where the relay's time goes, per case: (steps, aggregates drained).
    breakdown: dict[str, tuple[Steps, int]] = {}

    def steps_for(case: str, aggregates: int) -> Steps:
        steps, count = breakdown.get(case, (Steps(), 0))
        breakdown[case] = (steps, count + aggregates)
        return steps

    def keep(rate: Rate) -> Rate:
        results.setdefault(rate.name, []).append(rate)
        print(f"  {rate.name}: {rate.per_s:.1f} /s")
        return rate

    try:
        for n in range(rounds):
            keep(
                await raw_produce(
                    bootstrap, company_records(topic, f"r{n}", events), pipelined=False
                )
            )
            keep(
                await raw_produce(
                    bootstrap, company_records(topic, f"pipe{n}", events), pipelined=True
                )
            )
            keep(await broker_publish(bootstrap, company_records(topic, f"p{n}", events)))
            for per in (1, 4):
                records = company_records(topic, f"o{per}-{n}", events)
                keep(
                    await relay_drain(
                        bootstrap,
                        database[f"o{per}_{n}"],
                        records,
                        per_aggregate=per,
                        batch=batch,
                        steps=steps_for(f"{per} event(s)/aggregate", events // per),
                    )
                )
        if old:
            records = company_records(topic, "old", max(events // 4, 20))
            steps = steps_for(f"1 event/aggregate, {old} published documents", len(records))
            keep(
                await relay_drain(
                    bootstrap,
                    database["old"],
                    records,
                    per_aggregate=1,
                    batch=batch,
                    published=old,
                    steps=steps,
                )
            )
    finally:
        await client.drop_database(database.name)
        await delete_topics(bootstrap, [topic])
    totals = [_total(rates) for rates in results.values()]
    print_rates("Relay against raw produce (records/s, all rounds)", totals)
    raw_seq, raw_pipe, publish, relay1, relay4, *relay_old = totals
    print_ratio("relay (1 event/aggregate) / raw one-by-one produce", relay1, raw_seq, 0.5)
    print_ratio("relay (4 events/aggregate) / raw one-by-one produce", relay4, raw_seq, 0.5)
    print_ratio("relay (1 event/aggregate) / raw pipelined produce", relay1, raw_pipe, 0.5)
    print_ratio("relay (4 events/aggregate) / raw pipelined produce", relay4, raw_pipe, 0.5)
    print_ratio("BrokerPublisher / raw one-by-one produce", publish, raw_seq)
    if relay_old:
        print_ratio(f"relay with {old} published documents / relay (1 event)", relay_old[0], relay1)
    for case, (steps, aggregates) in breakdown.items():
        print(f"  where the relay's time goes, {case} (wall clock per aggregate):")
        steps.print(aggregates, "aggregate")


# --- (b) the consumer -----------------------------------------------------------------------


@dataclass
class Window:
    """From the start of the first record's work to the end of the last one's."""

    expect: int
    done: int = 0
    first: float = 0.0
    last: float = 0.0
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        if self.first == 0.0:
            self.first = time.perf_counter()

    def end(self) -> None:
        self.done += 1
        self.last = time.perf_counter()
        if self.done >= self.expect:
            self.finished.set()

    def rate(self, name: str) -> Rate:
        return Rate(name, self.done, self.last - self.first)


def effect_of(data: CompanyRegisteredV1, event_id: str) -> Document:
    """The one document a handler stores per event (same on both sides)."""
    return {
        "_id": event_id,
        "company_id": data.company_id,
        "legal_name": data.legal_name,
        "version": data.version,
    }


class CountedRecord:
    """`ProcessedEvents` whose stored records mark their events done in the window: the last
    thing the library does for a batch before FastStream commits its offsets."""

    def __init__(self, processed: ProcessedEvents, window: Window) -> None:
        self._processed = processed
        self._window = window

    async def seen(self, group: str, meta: EventMetadata) -> bool:
        return await self._processed.seen(group, meta)

    async def record(self, group: str, metas: Sequence[EventMetadata]) -> None:
        await self._processed.record(group, metas)
        for _ in metas:
            self._window.end()


async def run_event_consumer(
    bootstrap: str, database: Any, *, topic: str, group: str, expect: int, limit_s: float
) -> Rate:
    """The library consumer, wired as `ServiceRuntime.consumer` wires it (its default batches);
    a record is done once its batch's idempotency records are stored."""
    window = Window(expect)
    effects = database["effects"]
    broker = create_broker(
        kafka_settings(bootstrap), client_id="bench-consumer", graceful_timeout=5
    )
    consumer = EventConsumer(
        group=group,
        processed=CountedRecord(ProcessedEvents(database["processed_events"]), window),
        dead_letters=BrokerPublisher(broker),
        dead_letter_topic=f"{topic}.dlq",
        settings=ConsumerSettings(consumer_group=group),
    )

    @consumer.on(CompanyRegisteredV1)
    async def store(event: Event[CompanyRegisteredV1]) -> None:
        window.start()
        await effects.insert_one(effect_of(event.data, event.meta.id))

    consumer.subscribe(broker, topic)
    await broker.start()
    try:
        await asyncio.wait_for(window.finished.wait(), limit_s)
    except TimeoutError:
        print(f"  (EventConsumer: {window.done}/{expect} within {limit_s:.0f} s)")
    finally:
        await broker.stop()
    return window.rate(f"EventConsumer (FastStream, batches of {BATCH_RECORDS}) + ProcessedEvents")


async def raw_group_consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    """A started aiokafka consumer of a group, committing by hand, from the beginning."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    return consumer


async def run_raw_consumer(
    bootstrap: str, database: Any, *, topic: str, group: str, expect: int, limit_s: float
) -> Rate:
    """The same work by hand, one record at a time (the library's former way, the reference of
    earlier runs): dedup check, effect, idempotency record, commit, per record."""
    window = Window(expect)
    effects, processed = database["effects"], database["processed_events"]
    consumer = await raw_group_consumer(bootstrap, topic, group)
    deadline = time.perf_counter() + limit_s
    steps = Steps()
    try:
        while window.done < expect and time.perf_counter() < deadline:
            try:
                record = await asyncio.wait_for(consumer.getone(), 1.0)
            except TimeoutError:
                continue
            if window.done == 0:
                steps.restart()  # the group's join is not a step of the loop
            window.start()
            steps.lap("(poll)")
            headers = {name: value.decode() for name, value in record.headers}
            key = f"{group}|{headers['ce_source']}|{headers['ce_id']}"
            seen = await processed.find_one({"_id": key}, {"_id": 1})
            steps.lap("find_one idempotency record")
            if seen is None:
                data = CompanyRegisteredV1.model_validate_json(record.value or b"")
                await effects.insert_one(effect_of(data, headers["ce_id"]))
                steps.lap("insert_one effect")
                await processed.insert_one(
                    {
                        "_id": key,
                        "group": group,
                        "type": headers["ce_type"],
                        "handled_at": time.time(),
                    }
                )
                steps.lap("insert_one idempotency record")
            await consumer.commit(
                {TopicPartition(record.topic, record.partition): record.offset + 1}
            )
            steps.lap("commit offset")
            window.end()
    finally:
        await consumer.stop()
    RAW_STEPS.merge(steps)
    return window.rate("raw aiokafka getone + PyMongo, per record")


async def record_batch(processed: Any, documents: list[Document]) -> None:
    """One unordered insert of a batch's idempotency records; those already there are no error,
    as in `ProcessedEvents.record`."""
    if not documents:
        return
    try:
        await processed.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if [e for e in errors if e.get("code") != DUPLICATE_KEY]:
            raise
        if exc.details.get("writeConcernErrors"):
            raise


async def run_raw_batch_consumer(
    bootstrap: str, database: Any, *, topic: str, group: str, expect: int, limit_s: float
) -> Rate:
    """The same work by hand, batched as the library does it: per record in order the dedup
    check (the batch's own set, then the database) and the effect; per batch one unordered
    insert of the idempotency records, then one commit of the batch's offsets."""
    window = Window(expect)
    effects, processed = database["effects"], database["processed_events"]
    consumer = await raw_group_consumer(bootstrap, topic, group)
    deadline = time.perf_counter() + limit_s
    steps = Steps()
    try:
        while window.done < expect and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=BATCH_WAIT_MS, max_records=BATCH_RECORDS)
            if not batches:
                continue
            if window.first == 0.0:
                steps.restart()  # the group's join is not a step of the loop
            window.start()
            steps.lap("(poll) getmany, per batch")
            keys: set[str] = set()
            documents: list[Document] = []
            for records in batches.values():
                for record in records:
                    headers = {name: value.decode() for name, value in record.headers}
                    key = f"{group}|{headers['ce_source']}|{headers['ce_id']}"
                    seen = key in keys or (
                        await processed.find_one({"_id": key}, {"_id": 1}) is not None
                    )
                    steps.lap("find_one idempotency record")
                    if seen:
                        continue
                    data = CompanyRegisteredV1.model_validate_json(record.value or b"")
                    await effects.insert_one(effect_of(data, headers["ce_id"]))
                    steps.lap("insert_one effect")
                    keys.add(key)
                    documents.append(
                        {
                            "_id": key,
                            "group": group,
                            "type": headers["ce_type"],
                            "handled_at": datetime.now(UTC),
                        }
                    )
            await record_batch(processed, documents)
            steps.lap("insert_many idempotency, per batch")
            for _ in documents:
                window.end()
            await consumer.commit(
                {partition: records[-1].offset + 1 for partition, records in batches.items()}
            )
            steps.lap("commit offsets, per batch")
    finally:
        await consumer.stop()
    RAW_BATCH_STEPS.merge(steps)
    return window.rate(f"raw aiokafka getmany({BATCH_RECORDS}) + PyMongo, per batch")


# Every raw round's steps, summed for the breakdowns printed at the end.
RAW_STEPS = Steps()
RAW_BATCH_STEPS = Steps()


class Runner(Protocol):
    def __call__(
        self, bootstrap: str, database: Any, *, topic: str, group: str, expect: int, limit_s: float
    ) -> Awaitable[Rate]: ...


async def bench_consumer(
    bootstrap: str, client: AsyncMongoClient[Any], run: str, events: int, rounds: int
) -> None:
    topic = f"bench.{run}.consume"
    await create_topics(bootstrap, {topic: PARTITIONS})
    records = company_records(topic, "c", events)
    await raw_produce(bootstrap, records, pipelined=True, warm_up=False)
    print(
        f"\n(b) consumer: {events} CompanyRegistered records on {PARTITIONS} partitions, "
        f"{rounds} alternating rounds; batches of up to {BATCH_RECORDS} records "
        f"(read wait {BATCH_WAIT_MS} ms) for the library and the batched raw loop"
    )
    # The database names carry the side: letters only.
    sides: dict[str, tuple[Runner, list[Rate]]] = {
        "raw": (run_raw_consumer, []),
        "rawbatch": (run_raw_batch_consumer, []),
        "faststream": (run_event_consumer, []),
    }
    databases: list[str] = []
    # This process's CPU time per side (the runners share the process, one at a time).
    cpu: dict[str, float] = dict.fromkeys(sides, 0.0)
    try:
        for round_ in range(rounds):
            for side, (runner, results) in sides.items():
                name = f"bench_{run}_{side}_{round_}"
                databases.append(name)
                group = f"bench-{run}-{side}-{round_}"
                started = time.process_time()
                rate = await runner(
                    bootstrap, client[name], topic=topic, group=group, expect=events, limit_s=90
                )
                cpu[side] += time.process_time() - started
                results.append(rate)
                print(f"  round {round_ + 1} {rate.name}: {rate.per_s:.1f} /s")
    finally:
        for name in databases:
            await client.drop_database(name)
        await delete_topics(bootstrap, [topic])
    raw = _total(sides["raw"][1])
    batched = _total(sides["rawbatch"][1])
    fast = _total(sides["faststream"][1])
    print_rates("Consumer against the raw loops (records/s, all rounds)", [batched, raw, fast])
    print_ratio("EventConsumer / raw batched loop (the same work)", fast, batched, 0.75)
    print_ratio("EventConsumer / raw per-record loop (earlier reference)", fast, raw)
    print_ratio("raw batched loop / raw per-record loop", batched, raw)
    print("  CPU time of this process per record (group join and start-up included):")
    for side, rate in (("rawbatch", batched), ("raw", raw), ("faststream", fast)):
        print(f"    {rate.name:<62} {cpu[side] / max(rate.count, 1) * 1000:.2f} ms")
    print("  where the raw batched loop's time goes (wall clock per record, all rounds):")
    RAW_BATCH_STEPS.print(batched.count)
    print("  where the raw per-record loop's time goes (wall clock per record, all rounds):")
    RAW_STEPS.print(raw.count)


def _total(rates: list[Rate]) -> Rate:
    return Rate(rates[0].name, sum(r.count for r in rates), sum(r.seconds for r in rates))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120, help="relay records a round")
    parser.add_argument("--old", type=int, default=1000, help="published documents, last case")
    parser.add_argument(
        "--batch",
        type=int,
        default=OutboxSettings.model_fields["outbox_batch_size"].default,
        help="relay batch size (outbox_batch_size)",
    )
    parser.add_argument("--consume", type=int, default=500, help="records for the consumer part")
    parser.add_argument("--relay-rounds", type=int, default=3, help="alternating relay rounds")
    parser.add_argument("--rounds", type=int, default=2, help="alternating consumer rounds")
    parser.add_argument("--only", choices=("relay", "consumer"), default=None)
    args = parser.parse_args()
    service_like_logging()
    run = new_run_id()
    bootstrap, uri = kafka_bootstrap(), mongodb_uri()
    print(f"backbone, run {run}: Kafka {bootstrap}, MongoDB {uri}; {machine_note()}")
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri, tz_aware=True)
    try:
        if args.only in (None, "relay"):
            await bench_relay(
                bootstrap,
                client,
                run,
                events=args.events,
                rounds=args.relay_rounds,
                old=args.old,
                batch=args.batch,
            )
        if args.only in (None, "consumer"):
            await bench_consumer(bootstrap, client, run, args.consume, args.rounds)
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
