"""Scaling: the notifications service with 1, 2 and 4 replicas on 1, 2 and 4 partitions.

    uv run python bench/scaling.py [--events N] [--replicas 1,2,4]

The service's topics have fixed names, so this runs on a Kafka broker of its own
(tests/support/private_kafka.py), where `eci.registry.companies` is deleted and created again
with as many partitions as there are replicas before each step. The registry is left out (the
outbox relay is measured by backbone.py and caps end_to_end.py): `--events` CompanyRegistered
records are produced straight onto the topic, pipelined, once every replica is in the group,
and the rate is records / (last staff notification stored - first record sent). "Stored" is
the `notified` line of the replica that stored it (logged after the insert). Each step has its
own database (shared by its replicas, the shared FerretDB) and consumer group.
"""

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from fleet import MemoryWatch, log_times, now, start_service, stop_all, wait_all_ready
from harness import (
    Rate,
    company_records,
    drop_databases,
    machine_note,
    mongodb_uri,
    new_run_id,
    print_rates,
    print_ratio,
    private_kafka,
)

from eci_common import topics
from support.endpoints import Endpoints
from support.services import ServiceProcess

TOPIC = topics.REGISTRY_COMPANIES


async def recreate_topic(bootstrap: str, partitions: int) -> None:
    """Deletes the companies topic and creates it again with `partitions` partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([TOPIC])
        deadline = time.monotonic() + 60
        while True:  # the deletion completes asynchronously
            try:
                await admin.create_topics([NewTopic(TOPIC, partitions, 1)])
                break
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
    await asyncio.sleep(1.0)


async def group_settled(bootstrap: str, group: str, members: int, limit_s: float = 60) -> bool:
    """Until the group is Stable with `members` members (raw DescribeGroups response)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline = time.monotonic() + limit_s
    try:
        while time.monotonic() < deadline:
            try:
                (response,) = await admin.describe_consumer_groups([group])
                _, _, state, _, _, current, *_ = response.groups[0]
                if state == "Stable" and len(current) == members:
                    return True
            except (KafkaError, IndexError, ValueError) as exc:
                print(f"  (describe group: {exc!r})")
            await asyncio.sleep(0.5)
        return False
    finally:
        await admin.close()


async def produce(bootstrap: str, count: int, run: str, step: int) -> tuple[float, list[str]]:
    """Pipelined, acks=all; returns when the first record left and the correlation ids."""
    records = company_records(TOPIC, f"scale-{run}-{step}", count)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        started = now()
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
    return started, [r.headers["ce_correlationid"] for r in records]


async def wait_notified(
    replicas: list[ServiceProcess], expected: list[str], limit_s: float
) -> dict[str, float]:
    deadline = time.monotonic() + limit_s
    while True:
        times = log_times((replica.log_path for replica in replicas), "notified")
        missing = sum(1 for key in expected if key not in times)
        if not missing or time.monotonic() >= deadline:
            if missing:
                print(f"  ({missing} of {len(expected)} not notified within {limit_s:.0f} s)")
            return times
        await asyncio.sleep(0.5)


async def step(
    bootstrap: str,
    run: str,
    *,
    replicas: int,
    events: int,
    log_dir: Path,
    watch_peak: dict[str, Any],
) -> Rate:
    endpoints = Endpoints(bootstrap, mongodb_uri(), "bench")
    overrides = {
        "MONGODB_DATABASE": f"bench_{run}_notifications_{replicas}",
        "CONSUMER_GROUP": f"bench-{run}-notifications-{replicas}",
        # Several replicas on one FerretDB database: the replica fence would refuse all but the
        # first. This measures the consumer group's spread, not replicas that are safe there.
        "UNSAFE_ALLOW_REPLICAS_ON_FERRETDB": "true",
    }
    step_dir = log_dir / f"replicas-{replicas}"
    step_dir.mkdir()
    processes = [
        start_service("notifications", endpoints, run, step_dir, replica=index, **overrides)
        for index in range(replicas)
    ]
    watch = MemoryWatch(processes)
    try:
        await wait_all_ready(processes)
        settled = await group_settled(bootstrap, overrides["CONSUMER_GROUP"], replicas)
        if not settled:
            print(f"  (the group did not settle with {replicas} members; measuring anyway)")
        watch.start()
        started, expected = await produce(bootstrap, events, run, replicas)
        times = await wait_notified(processes, expected, 120)
        done = [times[key] for key in expected if key in times]
        per_replica = [
            len(log_times([process.log_path], "notified").keys() & set(expected))
            for process in processes
        ]
        rate = Rate(
            f"{replicas} replica(s), {replicas} partition(s)", len(done), max(done) - started
        )
        print(f"  {rate.name}: {rate.per_s:.1f} /s; events per replica {per_replica}")
        watch.sample()
        await watch.stop()
        watch_peak[rate.name] = max(watch.peak.values())
        return rate
    finally:
        await watch.stop()
        stop_all(processes)
        await drop_databases(mongodb_uri(), [overrides["MONGODB_DATABASE"]])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--replicas", default="1,2,4")
    args = parser.parse_args()
    counts = [int(value) for value in args.replicas.split(",")]
    run = new_run_id()
    print(f"scaling, run {run}: MongoDB {mongodb_uri()}; {machine_note()}")
    log_dir = Path(tempfile.mkdtemp(prefix=f"eci-bench-{run}-"))
    rates: list[Rate] = []
    memory: dict[str, Any] = {}
    try:
        async with private_kafka({TOPIC: counts[0]}) as bootstrap:
            for index, replicas in enumerate(counts):
                if index:
                    await recreate_topic(bootstrap, replicas)
                rates.append(
                    await step(
                        bootstrap,
                        run,
                        replicas=replicas,
                        events=args.events,
                        log_dir=log_dir,
                        watch_peak=memory,
                    )
                )
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    print_rates("Notifications consumer, CompanyRegistered -> staff notification", rates)
    for rate in rates[1:]:
        print_ratio(f"{rate.name} / {rates[0].name}", rate, rates[0])
    print("  peak RSS of one replica: " + ", ".join(f"{k}: {v:.0f} MiB" for k, v in memory.items()))


if __name__ == "__main__":
    asyncio.run(main())
