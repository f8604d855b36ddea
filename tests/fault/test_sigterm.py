"""SIGTERM while a handler is busy: the process exits within its configured bound and the
unfinished event is redelivered to the next consumer, not lost."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eci_common.envelope import new_event, to_record
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.mongo import MongoClient
from support.endpoints import REPO, Endpoints, free_port
from support.kafka_io import create_topic, produce
from support.polling import eventually
from support.services import ServiceProcess

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

# The slow consumer's `shutdown_timeout_s`: how long an in-flight handler may run on after SIGTERM
# before it is cancelled.
SHUTDOWN_S = 3.0
# What a stop takes beyond that: leaving the consumer group, closing the Kafka and MongoDB clients
# and the interpreter's exit, on a loaded machine.
MARGIN_S = 5.0


def _slow(
    endpoints: Endpoints, topic: str, database: str, seconds: float, log_dir: Path
) -> ServiceProcess:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "tests"),
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap,
        "MONGODB_URI": endpoints.mongodb_uri,
        "LOG_FORMAT": "json",
        "SLOW_TOPIC": topic,
        "SLOW_DATABASE": database,
        "SLOW_SECONDS": str(seconds),
        "SLOW_PORT": str(port),
        "SLOW_SHUTDOWN_S": str(SHUTDOWN_S),
    }
    return ServiceProcess(
        name="notifications",
        env=env,
        log_path=log_dir / f"slow-{seconds}.log",
        port=port,
        module="support.slow_consumer",
    )


async def test_sigterm_during_a_slow_handler_leaves_the_event_to_the_next_consumer(
    endpoints: Endpoints, mongo: MongoClient, run_id: str, log_dir: Path
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap, partitions=1)
    event = new_event(
        CompanyRegisteredV1(
            company_id=f"c-{run_id}",
            version=1,
            legal_name="Lente",
            country="FR",
            registered_at=datetime.now(UTC),
        ),
        source="/eci/registry",
    )
    record = to_record(event)
    await produce(
        endpoints.kafka_bootstrap, [type(record)(topic, record.key, record.headers, record.body)]
    )
    database = f"t_{run_id}_slow"
    effects = mongo[database]["effects"]

    slow = _slow(endpoints, topic, database, seconds=60, log_dir=log_dir)
    slow.start()
    await slow.wait_ready()

    async def busy() -> bool:
        started = await effects.find_one({"_id": "started"})
        return started is not None and started["count"] >= 1

    await eventually(busy, what="the handler to start")
    started_at = datetime.now(UTC)
    exit_code = slow.stop(timeout=SHUTDOWN_S + MARGIN_S)  # SIGTERM; fails past the bound
    stopped_in = (datetime.now(UTC) - started_at).total_seconds()
    print(f"\n[sigterm] bound_s={SHUTDOWN_S}+{MARGIN_S} stopped_in_s={stopped_in:.1f}")  # noqa: T201
    # uvicorn shuts down cleanly, then re-raises the signal: the exit status says SIGTERM.
    assert exit_code in (0, -15), slow.log_tail()
    assert stopped_in < SHUTDOWN_S + MARGIN_S
    assert await effects.find_one({"_id": event.meta.id}) is None  # unfinished, not committed

    fast = _slow(endpoints, topic, database, seconds=0, log_dir=log_dir)
    fast.start()
    try:

        async def handled() -> bool:
            return await effects.find_one({"_id": event.meta.id}) is not None

        await eventually(handled, timeout=60, what="the redelivered event to be handled")
    finally:
        fast.stop()
    started = await effects.find_one({"_id": "started"})
    assert started is not None
    assert started["count"] == 2  # delivered again after the SIGTERM, handled once
    assert await effects.count_documents({"company": f"c-{run_id}"}) == 1
