"""The same event delivered twice to a consumer on the real broker has one effect."""

from datetime import UTC, datetime

import pytest

from eci_common.consumer import EventConsumer
from eci_common.envelope import new_event, to_record
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.idempotency import ProcessedEvents
from eci_common.kafka import BrokerPublisher
from eci_common.locks import DocumentLocks
from eci_common.mongo import MongoClient
from eci_common.settings import ConsumerSettings
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
from support.polling import eventually

pytestmark = pytest.mark.integration


async def test_redelivered_event_notifies_staff_once(
    endpoints: Endpoints, mongo: MongoClient, run_id: str
) -> None:
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
    marker = to_record(
        new_event(
            CompanyRegisteredV1(
                company_id=f"c-{run_id}",  # same key, so it is read after both copies
                version=2,
                legal_name="Marker",
                country="FR",
                registered_at=datetime.now(UTC),
            ),
            source="/eci/registry",
        )
    )
    records = [record, record, marker]
    await produce(
        endpoints.kafka_bootstrap,
        [type(r)(topic=topic, key=r.key, headers=r.headers, body=r.body) for r in records],
    )

    await broker.start()
    try:

        async def marker_handled() -> bool:
            return await processed.count_documents({"type": CompanyRegisteredV1.event_type}) >= 2

        await eventually(marker_handled, timeout=30, what="both events handled")
    finally:
        await broker.stop()

    notifications = await database["notifications"].find({"event_id": event.meta.id}).to_list()
    assert len(notifications) == 1
    assert await database["notifications"].count_documents({}) == 2  # the event and the marker
    assert await processed.count_documents({}) == 2
