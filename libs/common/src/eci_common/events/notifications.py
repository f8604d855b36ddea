"""Events published by the notifications service: the outcome of each delivery.

A delivery is one notification on one channel (e-mail or webhook) for one recipient. These
events name the recipient company (or the webhook subscription), never a person: the contacts'
names and addresses stay in the notifications database.
"""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from eci_common import topics
from eci_common.events.base import EventPayload

EVENT_TYPE_PREFIX = "fr.horlogerie.eci.notifications"

DeliveryChannel = Literal["email", "webhook"]


class _DeliveryEvent(EventPayload):
    topic: ClassVar[str] = topics.NOTIFICATIONS_DELIVERIES

    notification_id: str = Field(description="Notifications id of the delivery (the record key).")
    version: int = Field(ge=1, description="Version of the delivery after this change.")
    channel: DeliveryChannel
    kind: str = Field(description="What the notification is about, such as 'member_joined'.")
    cause_event_type: str = Field(description="CloudEvents type of the event that caused it.")
    cause_event_id: str = Field(description="CloudEvents id of the event that caused it.")
    recipient_company_id: str | None = Field(
        None, description="The company whose contact was notified (absent for a webhook)."
    )
    subscription_id: str | None = Field(None, description="The webhook subscription, if any.")
    attempts: int = Field(ge=1, description="Attempts made, this one included.")

    def partition_key(self) -> str:
        return self.notification_id


class NotificationDeliveredV1(_DeliveryEvent):
    """A notification reached its recipient: the SMTP server or the webhook accepted it."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.delivery.delivered.v1"

    delivered_at: datetime


class NotificationFailedV1(_DeliveryEvent):
    """A notification could not be delivered and will not be retried; `reason` says why."""

    event_type: ClassVar[str] = f"{EVENT_TYPE_PREFIX}.delivery.failed.v1"

    reason: str
    failed_at: datetime
