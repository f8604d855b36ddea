"""Markers that keep a compacted topic's segments rolling, so that compaction has a deadline.

Kafka never compacts the active segment, and it rolls a segment (after `segment.ms`, or
`max.compaction.lag.ms` on a compacted topic) only when a record is appended. On a quiet partition
of `eci.registry.contacts`, the empty list that replaces an erased company's contacts, and the
old list before it, would stay in the active segment, readable, for as long as nothing else is
written there. The producer of the topic therefore appends a marker to every partition every
`KAFKA_SEGMENT_ROLL_INTERVAL_S`: an empty body under one fixed key, no headers, so compaction
keeps only the latest marker per partition and consumers skip it (`is_segment_roll_marker`).
The resulting bound is written in docs/operations.md.
"""

from typing import Final

from aiokafka import AIOKafkaProducer

from eci_common.kafka import client_security_kwargs
from eci_common.logging import get_logger
from eci_common.periodic import PeriodicJob
from eci_common.settings import KafkaSettings

ROLL_KEY: Final = "eci.segment-roll"
# The longest an erased company's contacts stay readable on `eci.registry.contacts` with the
# declared topic configs, the default marker interval and the broker's cleaner backoff
# (checked by tests/unit/test_contacts_compaction_bound.py, shown by the erasure journey).
CONTACTS_ERASURE_BOUND_S: Final = 2 * 3600

log = get_logger(__name__)


def is_segment_roll_marker(key: str | None, headers: dict[str, str], body: bytes) -> bool:
    """Whether a record is a marker of this module (nothing for a consumer to handle)."""
    return key == ROLL_KEY and not body and not headers


class SegmentRoller:
    """Appends a marker to each partition of `topic` every `interval_s`, from `start` to
    `stop`. A failed round is logged and tried again at the next tick: a marker is never urgent
    and the next one does the same work."""

    def __init__(self, settings: KafkaSettings, topic: str, *, interval_s: float) -> None:
        self._settings = settings
        self._topic = topic
        self._job = PeriodicJob(
            f"segment-roll-{topic}", self.roll_once, interval_s, first_after_interval=True
        )
        self.rounds = 0

    def start(self) -> None:
        self._job.start()

    async def stop(self) -> None:
        await self._job.stop()

    async def roll_once(self) -> int:
        """One marker per partition; how many were written."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            client_id="eci-segment-roll",
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=self._settings.kafka_request_timeout_ms,
            **client_security_kwargs(self._settings),
        )
        await producer.start()
        try:
            partitions = sorted(await producer.partitions_for(self._topic))
            for partition in partitions:
                await producer.send_and_wait(
                    self._topic, value=b"", key=ROLL_KEY.encode(), partition=partition
                )
        finally:
            await producer.stop()
        self.rounds += 1
        log.info("segment_roll_markers", topic=self._topic, partitions=len(partitions))
        return len(partitions)
