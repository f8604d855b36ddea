"""The AsyncAPI document each service should serve, built the way its `create_app` builds it."""

from typing import Any

from eci_common.asyncapi import asyncapi_document
from eci_common.events.catalog import EVENT_MODELS
from eci_notifications.handlers import TOPICS as NOTIFICATIONS_TOPICS
from eci_projects.handlers import HANDLED_EVENTS as PROJECTS_RECEIVES


def asyncapi_document_of(service: str) -> dict[str, Any]:
    receives = {
        "registry": (),
        "projects": PROJECTS_RECEIVES,
        "notifications": tuple(m for m in EVENT_MODELS if m.topic in NOTIFICATIONS_TOPICS),
    }[service]
    return asyncapi_document(service, receives=receives)
