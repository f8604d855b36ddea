"""The same event delivered twice to a consumer on the real broker is handled once.

The count is of handlings (a counter around the notifications service's use case, incremented
per call), not of notification documents: their ids are deterministic, so a second handling
would leave the same single document behind."""

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from eci_common.consumer import EventConsumer
from eci_common.envelope import Event, KafkaRecord, new_event, to_record
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.idempotency import ProcessedEvents
from eci_common.kafka import BrokerPublisher
from eci_common.locks import DocumentLocks
from eci_common.mongo import MongoClient
from eci_common.settings import ConsumerSettings
from eci_notifications import service
from eci_notifications.contacts import MongoContactBook
from eci_notifications.digest import DigestLog
from eci_notifications.directory import Directory
from eci_notifications.handlers import register_handlers
from eci_notifications.repository import MongoNotificationRepository
from eci_notifications.service import Notifier
from eci_notifications.subscriptions import MongoSubscriptionRepository
from eci_notifications.templates import Renderer
from support.endpoints import Endpoints
from support.kafka_io import broker_for, create_topic, produce
from support.offsets import wait_until_consumed

pytestmark = pytest.mark.integration


async def test_redelivered_event_notifies_staff_once(
    endpoints: Endpoints, mongo: MongoClient, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handled: Counter[str] = Counter()  # event id -> calls of the use case
    handle_event = service.handle_event

    async def counting(*, notifier: Notifier, event: Event[Any]) -> int:
        handled[event.meta.id] += 1
        return await handle_event(notifier=notifier, event=event)

    monkeypatch.setattr(service, "handle_event", counting)
    topic = await create_topic(endpoints.kafka_bootstrap)
    database = mongo[f"t_{run_id}_notifications"]
    locks = DocumentLocks()
    repository = MongoNotificationRepository(database["notifications"], locks)
    notifier = Notifier(
        notifications=repository,
        contacts=MongoContactBook(database["contacts"], database["preferences"], locks),
        directory=Directory(database, locks),
        subscriptions=MongoSubscriptionRepository(database["webhook_subscriptions"], locks),
        renderer=Renderer(),
        candidates_top_n=5,
        wake_delivery=lambda: None,
    )
    processed = database["processed_events"]

    broker = broker_for(endpoints.kafka_bootstrap, "dup-test")
    consumer = EventConsumer(
        group=f"t-{run_id}",
        processed=ProcessedEvents(processed),
        dead_letters=BrokerPublisher(broker),
        dead_letter_topic=topic,
        settings=ConsumerSettings(consumer_group=f"t-{run_id}"),
    )
    register_handlers(consumer, notifier, DigestLog(database["digests"]))
    consumer.subscribe(broker, topic)

    event = new_event(
        CompanyRegisteredV1(
            company_id=f"c-{run_id}",
            version=1,
            legal_name="Horlogerie Double",
            country="FR",
            registered_at=datetime.now(UTC),
        ),
        source="/eci/registry",
    )
    record = to_record(event)
    marker_event = new_event(
        CompanyRegisteredV1(
            company_id=f"c-{run_id}",
            version=2,
            legal_name="Marker",
            country="FR",
            registered_at=datetime.now(UTC),
        ),
        source="/eci/registry",
    )
    marker = to_record(marker_event)
    group = f"t-{run_id}"

    async def send(records: list[KafkaRecord]) -> None:
        await produce(
            endpoints.kafka_bootstrap,
            [KafkaRecord(topic=topic, key=r.key, headers=r.headers, body=r.body) for r in records],
        )

    async def all_handled() -> None:
        """Waits until the group has committed everything sent: nothing more will be handled."""
        await wait_until_consumed(endpoints.kafka_bootstrap, (group,), (topic,))

    # Twice before the consumer starts, so that its first batch holds both copies (caught by the
    # batch's own list), then once more later with a second event (another batch: caught by the
    # idempotency record).
    await send([record, record])
    await broker.start()
    try:
        await all_handled()
        await send([record, marker])
        await all_handled()
    finally:
        await broker.stop()

    assert handled == {event.meta.id: 1, marker_event.meta.id: 1}
    notifications = await database["notifications"].find({"event_id": event.meta.id}).to_list()
    assert len(notifications) == 1
    assert await database["notifications"].count_documents({}) == 2  # the event and the marker
    assert await processed.count_documents({}) == 2
