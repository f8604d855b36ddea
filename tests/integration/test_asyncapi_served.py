"""The registry serves its own AsyncAPI document, as JSON and as a self-contained HTML page."""

import httpx
import pytest

from eci_common.asyncapi import asyncapi_document
from eci_common.events.catalog import EVENT_MODELS

pytestmark = pytest.mark.integration

REGISTRY_TYPES = [
    model.event_type
    for model in EVENT_MODELS
    if model.event_type.startswith("fr.horlogerie.eci.registry.")
]


async def test_asyncapi_json_is_the_generated_registry_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/asyncapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == asyncapi_document("registry")


async def test_asyncapi_page_lists_every_registry_event_type(client: httpx.AsyncClient) -> None:
    response = await client.get("/asyncapi")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.startswith("<!DOCTYPE html>")
    assert REGISTRY_TYPES
    for event_type in REGISTRY_TYPES:
        assert f"<code>{event_type}</code>" in page, event_type
    # Self-contained: no script, nothing loaded from elsewhere.
    assert "<script" not in page
    assert 'src="' not in page
    assert '<link rel="stylesheet"' not in page
