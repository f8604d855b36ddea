"""The time an erased company's contacts may stay on `eci.registry.contacts` is bounded, and the
bound written in the docs follows from the declared settings.

Kafka compacts only rolled segments, and rolls one only at an append once its first record is
older than min(segment.ms, max.compaction.lag.ms); the registry's markers append to every
partition each KAFKA_SEGMENT_ROLL_INTERVAL_S. A rolled segment whose first record is older than
max.compaction.lag.ms is cleaned at the cleaner's next pass, log.cleaner.backoff.ms at most after.
tests/e2e/test_erasure_journey.py shows the same on a real broker with short settings."""

import dataclasses
import re

from eci_common import topics
from eci_common.consumer import ReceivedRecord
from eci_common.segment_roll import CONTACTS_ERASURE_BOUND_S, ROLL_KEY, is_segment_roll_marker
from eci_common.settings import KafkaSettings
from support.endpoints import INFRA, declared_topics

from .test_consumer_hostile import _consumer


def _cleaner_backoff_ms(script: str) -> int:
    text = (INFRA / script).read_text()
    found = re.search(r"^log\.cleaner\.backoff\.ms=(\d+)$", text, re.M)
    assert found, f"{script} does not set log.cleaner.backoff.ms"
    return int(found.group(1))


def test_the_contacts_topic_forgets_an_erasure_within_the_documented_bound() -> None:
    config = {name: c for name, _, c in declared_topics()}[topics.REGISTRY_CONTACTS]
    assert config["cleanup.policy"] == "compact"
    assert int(config.get("min.compaction.lag.ms", "0")) == 0
    segment_ms, max_lag_ms = int(config["segment.ms"]), int(config["max.compaction.lag.ms"])
    roll_interval_ms = KafkaSettings().kafka_segment_roll_interval_s * 1000
    backoff_ms = max(_cleaner_backoff_ms("kafka.sh"), _cleaner_backoff_ms("kafka-container.sh"))
    rolled_by = min(segment_ms, max_lag_ms) + roll_interval_ms
    cleaned_by = max(rolled_by, max_lag_ms) + backoff_ms
    assert cleaned_by <= CONTACTS_ERASURE_BOUND_S * 1000, (cleaned_by / 3600_000, "hours")


def test_the_bound_is_the_one_the_docs_give() -> None:
    hours = CONTACTS_ERASURE_BOUND_S // 3600
    for doc in ("docs/operations.md", "README.md"):
        text = (INFRA.parent / doc).read_text()
        assert f"within {hours} hours" in text, doc


def test_a_marker_is_recognised_and_nothing_else() -> None:
    assert is_segment_roll_marker(ROLL_KEY, {}, b"")
    assert not is_segment_roll_marker(ROLL_KEY, {"ce_type": "x"}, b"")
    assert not is_segment_roll_marker(ROLL_KEY, {}, b"{}")
    assert not is_segment_roll_marker("company-1", {}, b"")


async def test_consumers_skip_the_markers_and_dead_letter_other_empty_records() -> None:
    consumer, dead_letters, handled = _consumer()
    marker = ReceivedRecord(topics.REGISTRY_CONTACTS, 0, 7, ROLL_KEY, {}, b"")
    await consumer.process(marker)
    assert dead_letters.records == []
    await consumer.process(dataclasses.replace(marker, key="company-1"))
    assert [letter.headers["dlq_error_type"] for letter in dead_letters.records] == [
        "MalformedEvent"
    ]
    assert handled == []
