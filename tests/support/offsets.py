"""Waiting until a consumer group has committed everything on its topics: the condition that
"nothing more will come" stands for, polled with a deadline instead of a fixed sleep.

A consumer commits a batch's offsets only after the batch's effects and idempotency records are
stored, so once the group's committed offset reaches the end offset of every partition, every
record then on the topics has been handled (or skipped as a duplicate) and no handling is still
in flight for it.
"""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from support.polling import eventually


async def end_offsets(bootstrap: str, topics: tuple[str, ...]) -> dict[TopicPartition, int]:
    """The offset after the last record of every partition of `topics`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    assert partitions, f"no partitions known for {topics}"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return ends


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets (partitions it never committed are absent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {partition: meta.offset for partition, meta in offsets.items()}


async def wait_until_consumed(
    bootstrap: str,
    groups: tuple[str, ...],
    topics: tuple[str, ...],
    *,
    timeout: float = 60.0,
    interval: float = 0.5,
) -> None:
    """Polls until each of `groups` has committed up to the end of every partition of `topics`
    (the ends read once, when called: records produced later are not waited for)."""
    ends = await end_offsets(bootstrap, topics)
    for group in groups:

        async def caught_up(group: str = group) -> bool:
            committed = await committed_offsets(bootstrap, group)
            return all(committed.get(partition, 0) >= end for partition, end in ends.items())

        await eventually(
            caught_up,
            timeout=timeout,
            interval=interval,
            what=f"group {group} to commit the end of {', '.join(topics)}",
        )
