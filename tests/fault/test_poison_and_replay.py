"""A poison message reaches the dead-letter topic after the configured attempts while records of
other keys keep flowing; replayed after the fix, it has its effect once (and only once, even if
replayed twice)."""

from datetime import UTC, datetime

import pytest

from eci_common.consumer import EventConsumer
from eci_common.dead_letters import read_dead_letters, replay, select
from eci_common.envelope import Event, KafkaRecord, new_event, to_record
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.idempotency import ProcessedEvents
from eci_common.kafka import BrokerPublisher
from eci_common.metrics import Metrics
from eci_common.mongo import MongoClient
from eci_common.settings import ConsumerSettings
from support.endpoints import Endpoints
from support.kafka_io import broker_for, create_topic, produce
from support.polling import eventually

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]

ATTEMPTS = 3


def _record(topic: str, company_id: str) -> tuple[str, KafkaRecord]:
    event = new_event(
        CompanyRegisteredV1(
            company_id=company_id,
            version=1,
            legal_name=f"Entreprise {company_id}",
            country="FR",
            registered_at=datetime.now(UTC),
        ),
        source="/eci/registry",
    )
    record = to_record(event)
    return event.meta.id, KafkaRecord(topic, record.key, record.headers, record.body)


async def test_poison_is_dead_lettered_others_flow_and_replay_applies_it_once(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
    topic = await create_topic(endpoints.kafka_bootstrap, partitions=1)
    dead_letters = await create_topic(endpoints.kafka_bootstrap, partitions=1)
    effects = mongo[f"t_{run_id}_poison"]["effects"]
    bug = {"present": True}
    metrics = Metrics("test")

    broker = broker_for(endpoints.kafka_bootstrap, "poison")
    consumer = EventConsumer(
        group=f"t-{run_id}",
        processed=ProcessedEvents(mongo[f"t_{run_id}_poison"]["processed_events"]),
        dead_letters=BrokerPublisher(broker),
        dead_letter_topic=dead_letters,
        settings=ConsumerSettings(
            consumer_group=f"t-{run_id}",
            consumer_max_attempts=ATTEMPTS,
            consumer_backoff_initial_s=0.05,
            consumer_backoff_max_s=0.2,
        ),
        metrics=metrics,
    )

    @consumer.on(CompanyRegisteredV1)
    async def handle(event: Event[CompanyRegisteredV1]) -> None:
        if bug["present"] and event.data.company_id == "poison":
            raise RuntimeError("a bug that this record triggers")
        await effects.insert_one({"_id": event.meta.id, "company": event.data.company_id})

    consumer.subscribe(broker, topic)
    poison_id, poison = _record(topic, "poison")
    others = [_record(topic, f"other-{n}") for n in range(20)]
    await produce(endpoints.kafka_bootstrap, [poison, *(record for _, record in others)])

    await broker.start()
    try:

        async def others_handled() -> bool:
            return await effects.count_documents({"company": {"$regex": "^other-"}}) == 20

        await eventually(others_handled, timeout=60, what="the other keys to flow past the poison")
        [letter] = await read_dead_letters(endpoints.kafka_bootstrap, dead_letters)
        assert letter.event_id == poison_id
        assert letter.headers["dlq_attempts"] == str(ATTEMPTS)
        assert letter.headers["dlq_error_type"] == "RuntimeError"
        assert letter.headers["dlq_group"] == f"t-{run_id}"
        assert letter.original_topic == topic
        assert await effects.count_documents({"company": "poison"}) == 0

        bug["present"] = False  # the fix is deployed
        letters = select([letter], event_id=poison_id)
        assert await replay(endpoints.kafka_bootstrap, letters) == 1
        assert await replay(endpoints.kafka_bootstrap, letters) == 1  # an operator's slip

        async def poison_applied() -> bool:
            return await effects.count_documents({"company": "poison"}) == 1

        await eventually(poison_applied, timeout=30, what="the replayed event's effect")
        duplicate = {
            "service": "test",
            "group": f"t-{run_id}",
            "type": CompanyRegisteredV1.event_type,
            "outcome": "duplicate",
        }

        async def second_replay_skipped() -> bool:
            return metrics.registry.get_sample_value("eci_events_consumed_total", duplicate) == 1

        await eventually(second_replay_skipped, timeout=30, what="the second replay to be skipped")
    finally:
        await broker.stop()
    assert await effects.count_documents({"company": "poison"}) == 1
    assert await effects.count_documents({}) == 21
