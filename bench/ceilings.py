"""Ceilings: what the raw clients do on this machine, with nothing of ours in the way.

    uv run python bench/ceilings.py [--produce N] [--bulk N] [--budget S]

- Kafka produce of 1 KiB JSON records with `acks=all` and idempotence (the settings of
  `eci_common.kafka`): one at a time (`send_and_wait`), then pipelined (a batch of `send`s, then
  every acknowledgement gathered);
- Kafka consume of the same records (a fresh group, from the beginning, `getmany`);
- MongoDB (PyMongo `AsyncMongoClient`) on one database: single `insert_one`s, one after the
  other, then `insert_many` in batches, of 1 KiB documents.

Everything goes to a topic and a database of this run, both removed at the end.
"""

import argparse
import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from harness import (
    Budget,
    Rate,
    create_topics,
    delete_topics,
    drop_databases,
    kafka_bootstrap,
    kib_json,
    kib_records,
    machine_note,
    mongodb_uri,
    new_run_id,
    print_rates,
    print_ratio,
)
from pymongo import AsyncMongoClient

from eci_common.envelope import KafkaRecord

BATCH = 500


def _producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)


def _headers(record: KafkaRecord) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in record.headers.items()]


async def produce_sequential(bootstrap: str, records: list[KafkaRecord], budget: float) -> Rate:
    """One record at a time: send, wait for the acknowledgement, next."""
    producer = _producer(bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(records[0].topic, b"{}", key=b"warm-up")
        deadline, sent = Budget(budget), 0
        started = time.perf_counter()
        for record in records:
            await producer.send_and_wait(
                record.topic, record.body, key=record.key.encode(), headers=_headers(record)
            )
            sent += 1
            if deadline.spent:
                break
        return Rate("produce, send_and_wait one by one", sent, time.perf_counter() - started)
    finally:
        await producer.stop()


async def produce_pipelined(
    bootstrap: str, records: list[KafkaRecord], budget: float, batch: int = BATCH
) -> Rate:
    """A batch of sends in flight, then every acknowledgement gathered."""
    producer = _producer(bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(records[0].topic, b"{}", key=b"warm-up")
        deadline, sent = Budget(budget), 0
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            futures = [
                await producer.send(
                    record.topic, record.body, key=record.key.encode(), headers=_headers(record)
                )
                for record in records[start : start + batch]
            ]
            await asyncio.gather(*futures)
            sent += len(futures)
            if deadline.spent:
                break
        return Rate(f"produce, pipelined ({batch} in flight)", sent, time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, partitions: int, expect: int, budget: float) -> Rate:
    """Every partition assigned (no group to join), from the beginning; timed from the
    assignment to the last record, so the fetches are in the figure."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=BATCH
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, partition) for partition in range(partitions)]
        started = time.perf_counter()
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        received, deadline = 0, Budget(budget)
        while received < expect and not deadline.spent:
            batch = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            for records in batch.values():
                for record in records:
                    # Touch what a consumer reads, as a real one would.
                    _ = (record.key, record.value, record.headers)
                    received += 1
        return Rate("consume, getmany", received, time.perf_counter() - started)
    finally:
        await consumer.stop()


def sample_document(index: int) -> dict[str, Any]:
    # String ids, as every collection of ours has: FerretDB v1 resolves `{_id: <string>}` in
    # SQLite, but not `{_id: <int>}` (it decodes every document for that).
    return {"_id": f"d-{index}", "payload": kib_json(index).decode()}


async def mongo_single(client: AsyncMongoClient[Any], db: str, count: int, budget: float) -> Rate:
    collection = client[db]["single"]
    await collection.insert_one({"_id": "warm-up"})
    deadline, inserted = Budget(budget), 0
    started = time.perf_counter()
    for index in range(count):
        await collection.insert_one(sample_document(index))
        inserted += 1
        if deadline.spent:
            break
    return Rate("mongo insert_one one by one", inserted, time.perf_counter() - started)


async def mongo_bulk(
    client: AsyncMongoClient[Any], db: str, count: int, budget: float, batch: int = BATCH
) -> Rate:
    collection = client[db]["bulk"]
    await collection.insert_one({"_id": "warm-up"})
    deadline, inserted = Budget(budget), 0
    started = time.perf_counter()
    for start in range(0, count, batch):
        documents = [sample_document(index) for index in range(start, min(start + batch, count))]
        await collection.insert_many(documents, ordered=True)
        inserted += len(documents)
        if deadline.spent:
            break
    return Rate(f"mongo insert_many ({batch} a batch)", inserted, time.perf_counter() - started)


async def fill_lookups(client: AsyncMongoClient[Any], db: str, size: int) -> Any:
    """`size` versioned documents `d-0` ... in the collection the lookups and updates use."""
    collection = client[db]["lookups"]
    for start in range(0, size, BATCH):
        batch = range(start, min(start + BATCH, size))
        await collection.insert_many([{**sample_document(i), "version": 1} for i in batch])
    return collection


async def mongo_lookups(
    client: AsyncMongoClient[Any], db: str, size: int, rounds: int, budget: float
) -> list[Rate]:
    """`find_one` of the last of `size` documents, by `_id` alone and by `_id` + `version` (the
    shape of every version-guarded update and of the outbox's lease-guarded writes)."""
    collection = await fill_lookups(client, db, size)
    last = f"d-{size - 1}"
    rates = []
    for name, query in (
        (f"find_one {{_id}}, last of {size}", {"_id": last}),
        (f"find_one {{_id, version}}, last of {size}", {"_id": last, "version": 1}),
        (f"find_one {{_id, version}}, first of {size}", {"_id": "d-0", "version": 1}),
    ):
        deadline, found = Budget(budget / 3), 0
        started = time.perf_counter()
        for _ in range(rounds):
            assert await collection.find_one(query, {"_id": 1}) is not None
            found += 1
            if deadline.spent:
                break
        rates.append(Rate(name, found, time.perf_counter() - started))
    return rates


async def mongo_updates(
    client: AsyncMongoClient[Any], db: str, size: int, batch: int, budget: float
) -> list[Rate]:
    """Writes to documents of the `size`-document collection of `mongo_lookups`, counted per
    document written: `update_one {_id}` one after the other, then `update_many` of `batch`
    documents by `{_id: {$in}}` (the outbox relay's claim and release). Never a `bulk_write`
    of many updates: FerretDB v1 keeps a SQLite connection per statement of an `update` command
    until the command ends, and about a hundred statements exhaust the database's pool of 100
    for good (until the database is dropped or FerretDB restarts)."""
    collection = client[db]["lookups"]
    ids = [f"d-{index}" for index in range(size - batch, size)]
    deadline, written = Budget(budget / 2), 0
    started = time.perf_counter()
    for doc_id in ids:
        await collection.update_one({"_id": doc_id}, {"$inc": {"version": 1}})
        written += 1
        if deadline.spent:
            break
    one = Rate(
        f"update_one {{_id}}, last {batch} of {size}", written, time.perf_counter() - started
    )
    deadline, written = Budget(budget / 2), 0
    started = time.perf_counter()
    while not deadline.spent and written < 5 * batch:
        result = await collection.update_many({"_id": {"$in": ids}}, {"$inc": {"version": 1}})
        written += result.modified_count
    many = Rate(
        f"update_many {{_id $in}} of {batch} of {size}, per document",
        written,
        time.perf_counter() - started,
    )
    return [one, many]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=1500, help="records sent one by one")
    parser.add_argument("--produce", type=int, default=10_000, help="records pipelined")
    parser.add_argument("--single", type=int, default=1500, help="documents inserted one by one")
    parser.add_argument("--bulk", type=int, default=10_000, help="documents in bulk")
    parser.add_argument("--lookups", type=int, default=2000, help="documents to look up in")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per measurement")
    args = parser.parse_args()

    run = new_run_id()
    bootstrap, uri = kafka_bootstrap(), mongodb_uri()
    one_by_one, pipelined = f"bench.{run}.ceil-seq", f"bench.{run}.ceil-pipe"
    database = f"bench_{run}_ceilings"
    print(f"ceilings, run {run}: Kafka {bootstrap}, MongoDB {uri}; {machine_note()}")
    await create_topics(bootstrap, {one_by_one: 3, pipelined: 3})
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
    try:
        kafka = [
            await produce_sequential(
                bootstrap, kib_records(one_by_one, args.sequential), args.budget
            ),
            await produce_pipelined(bootstrap, kib_records(pipelined, args.produce), args.budget),
        ]
        kafka.append(await consume(bootstrap, pipelined, 3, kafka[1].count + 1, args.budget))
        mongo = [
            await mongo_single(client, database, args.single, args.budget),
            await mongo_bulk(client, database, args.bulk, args.budget),
        ]
        lookups = await mongo_lookups(client, database, args.lookups, 40, args.budget)
        updates = await mongo_updates(client, database, args.lookups, 100, args.budget)
    finally:
        await client.close()
        await drop_databases(uri, [database])
        await delete_topics(bootstrap, [one_by_one, pipelined])
    print_rates("Kafka, 1 KiB JSON records, acks=all, idempotent producer", kafka)
    print_rates("MongoDB wire (PyMongo async), 1 KiB documents, one database", mongo)
    print_rates("MongoDB wire: which filters the server resolves without a scan", lookups)
    print_rates("MongoDB wire: writes, per document written", updates)
    print("\nRatios (same run)")
    print_ratio("pipelined produce / one-by-one produce", kafka[1], kafka[0])
    print_ratio("consume / pipelined produce", kafka[2], kafka[1])
    print_ratio("insert_many / insert_one", mongo[1], mongo[0])
    print_ratio("insert_one / one-by-one produce", mongo[0], kafka[0])
    print_ratio("find_one {_id, version} / find_one {_id}, last document", lookups[1], lookups[0])
    print_ratio("find_one {_id, version}: last / first document", lookups[1], lookups[2])
    print_ratio("update_many {_id $in} / update_one {_id}, per document", updates[1], updates[0])


if __name__ == "__main__":
    asyncio.run(main())
