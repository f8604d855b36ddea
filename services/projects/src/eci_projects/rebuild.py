"""Rebuilds projects' read model by replaying the registry topics from the beginning.

    python -m eci_projects.rebuild [--swap]

Records go through the very consumer and handlers the service runs, into fresh collections
(`companies_rebuild`, `memberships_rebuild`); `--swap` then makes them the live model: they are
renamed to a new generation's names, the pointer document is switched to that generation (one
write: readers go from the whole old model to the whole new one, with no moment without a
model), and the previous generation is dropped once every reader's cached pointer has expired
(`eci_projects.live_model`). Reading stops at the end offsets seen when the replay started, so
events that projects handles between the start of the replay and the swap are not in the new
model: stop projects' consumption for the rebuild (its readers can stay up).
"""

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from eci_common import topics
from eci_common.consumer import EventConsumer, ReceivedRecord
from eci_common.envelope import EventMetadata, KafkaRecord
from eci_common.kafka import client_security_kwargs
from eci_common.logging import configure_logging, get_logger
from eci_common.mongo import Database, create_mongo_client
from eci_projects.handlers import register_handlers
from eci_projects.live_model import MODEL, LiveModel, collection_names
from eci_projects.read_model import MongoCompanyDirectory
from eci_projects.settings import Settings

SUFFIX = "_rebuild"

log = get_logger(__name__)


class _Replay:
    """A replay has no idempotency record: every event is applied (the model's version guards
    make a repeated one harmless) and nothing is remembered."""

    async def seen(self, group: str, meta: EventMetadata) -> bool:
        return False

    async def record(self, group: str, metas: Sequence[EventMetadata]) -> None:
        return None


class _Refused:
    """What the live consumer dead-lettered is skipped and counted here, not published again."""

    def __init__(self) -> None:
        self.count = 0

    async def publish(self, record: KafkaRecord) -> None:
        self.count += 1


@dataclass(frozen=True)
class RebuildReport:
    records: int
    refused: int


async def replay_into(
    database: Database, settings: Settings, *, suffix: str = SUFFIX
) -> RebuildReport:
    """Replays every registry record into fresh collections named with `suffix`."""
    for name in MODEL:
        await database.drop_collection(f"{name}{suffix}")
    directory = MongoCompanyDirectory(
        database[f"companies{suffix}"], database[f"memberships{suffix}"]
    )
    refused = _Refused()
    consumer = EventConsumer(
        group="rebuild",
        processed=_Replay(),
        dead_letters=refused,
        dead_letter_topic="unused",
        settings=settings,
    )
    register_handlers(consumer, directory)

    kafka = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_security_kwargs(settings),
    )
    await kafka.start()
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in (topics.REGISTRY_COMPANIES, topics.REGISTRY_CLUSTERS)
            for partition in sorted(
                kafka.partitions_for_topic(topic) or await _partitions(kafka, topic)
            )
        ]
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        ends = await kafka.end_offsets(partitions)
        records = 0
        while await _behind(kafka, ends):
            batch = await kafka.getmany(*partitions, timeout_ms=1000)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset >= ends[tp]:
                        continue
                    await consumer.process(
                        ReceivedRecord(
                            topic=message.topic,
                            partition=message.partition,
                            offset=message.offset,
                            key=message.key.decode() if message.key else None,
                            headers={k: v.decode(errors="replace") for k, v in message.headers},
                            body=message.value or b"",
                        )
                    )
                    records += 1
            if records and records % 1000 == 0:
                log.info("rebuild_progress", records=records)
    finally:
        await kafka.stop()
    await directory.ensure_indexes()
    return RebuildReport(records=records, refused=refused.count)


async def _behind(kafka: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await kafka.position(partition) < end:
            return True
    return False


async def _partitions(kafka: AIOKafkaConsumer, topic: str) -> set[int]:
    await kafka._client.force_metadata_update()
    return kafka.partitions_for_topic(topic) or set()


async def swap(database: Database, *, suffix: str = SUFFIX, cache_s: float = 1.0) -> str:
    """Makes the rebuilt collections the live model; returns the new generation. `cache_s` is
    how long the service's readers cache the pointer (`LiveModel`): the previous generation is
    dropped only after twice that, once no reader can still be using it."""
    live = LiveModel(database, cache_s=cache_s)
    previous = await live.generation(fresh=True)
    generation = f"g{time.time_ns()}"
    for name, target in zip(MODEL, collection_names(generation), strict=True):
        await database[f"{name}{suffix}"].rename(target)
    await live.switch_to(generation)
    log.info("read_model_swapped", generation=generation, previous=previous)
    await asyncio.sleep(2 * cache_s)
    for name in collection_names(previous):
        await database.drop_collection(name)
    return generation


async def _main(swap_after: bool) -> None:
    settings = Settings()
    configure_logging(settings, service="projects-rebuild")
    client = create_mongo_client(settings)
    try:
        database = client[settings.mongodb_database]
        report = await replay_into(database, settings)
        sys.stdout.write(f"replayed {report.records} records ({report.refused} refused)\n")
        if swap_after:
            await swap(database)
            sys.stdout.write("live read model replaced\n")
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Rebuild projects' read model from the registry topics."
    )
    parser.add_argument(
        "--swap",
        action="store_true",
        help="make the rebuilt model live (projects' consumption stopped)",
    )
    asyncio.run(_main(parser.parse_args().swap))


if __name__ == "__main__":
    main()
