"""The AsyncAPI documents: well-formed 3.0, complete, true to the committed contracts, and the
committed `docs/asyncapi.json` in step with the code."""

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from eci_common import asyncapi, schemas, topics
from eci_common.asyncapi_http import render_html
from eci_common.events.base import EventPayload
from eci_common.events.catalog import EVENT_MODELS
from eci_common.events.registry import CompanyErasedV1, CompanyRegisteredV1
from support.endpoints import REPO

REGENERATE = "run `uv run python -m eci_common.asyncapi --output docs/asyncapi.json` and commit it"
PUBLIC_TYPES = {model.event_type for model in EVENT_MODELS if model.topic in topics.PUBLIC_TOPICS}
REGISTRY_TYPES = {
    model.event_type
    for model in EVENT_MODELS
    if model.event_type.startswith("fr.horlogerie.eci.registry.")
}


def resolve(document: dict[str, Any], reference: dict[str, str]) -> Any:
    assert set(reference) == {"$ref"}, reference
    target: Any = document
    for part in reference["$ref"].removeprefix("#/").split("/"):
        assert part in target, f"dangling reference {reference['$ref']}"
        target = target[part]
    return target


def assert_well_formed(document: dict[str, Any]) -> None:
    """The AsyncAPI 3.0 rules our documents rely on, every reference resolved."""
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert document["defaultContentType"] == "application/json"
    assert {name: server["host"] for name, server in document["servers"].items()} == {
        "production": "kafka:9092",
        "local": "127.0.0.1:9092",
    }
    assert all(server["protocol"] == "kafka" for server in document["servers"].values())
    messages = document["components"]["messages"]
    for channel_id, channel in document["channels"].items():
        assert channel["address"] == channel_id
        assert channel["bindings"]["kafka"]["topic"] == channel_id
        for message_id, reference in channel["messages"].items():
            assert resolve(document, reference) is messages[message_id]
    for operation_id, operation in document["operations"].items():
        assert operation["action"] in {"send", "receive"}, operation_id
        channel = resolve(document, operation["channel"])
        assert operation["messages"], operation_id
        for reference in operation["messages"]:
            # AsyncAPI 3: an operation's messages must be messages of its channel.
            assert reference["$ref"].startswith(f"{operation['channel']['$ref']}/messages/")
            assert resolve(document, reference) in channel["messages"].values()
    for message_id, message in messages.items():
        assert message["name"] == message_id
        assert message["contentType"] == "application/json"
        assert resolve(document, message["headers"]) == schemas.envelope_schema()
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert message["correlationId"]["location"] == "$message.header#/ce_correlationid"


def channel_of(document: dict[str, Any], event_type: str) -> list[str]:
    return [
        channel_id
        for channel_id, channel in document["channels"].items()
        if event_type in channel["messages"]
    ]


def test_the_public_document_is_well_formed_asyncapi_3() -> None:
    assert_well_formed(asyncapi.public_document())


def test_every_public_event_type_appears_once_on_its_topic() -> None:
    document = asyncapi.public_document()

    assert set(document["components"]["messages"]) == PUBLIC_TYPES
    for model in EVENT_MODELS:
        if model.event_type in PUBLIC_TYPES:
            assert channel_of(document, model.event_type) == [model.topic], model.event_type


def test_internal_topics_are_absent_from_the_public_document() -> None:
    document = asyncapi.public_document()

    assert set(document["channels"]) == set(topics.PUBLIC_TOPICS)
    text = asyncapi.render(document)
    for topic in topics.INTERNAL_TOPICS:
        assert topic not in text, f"internal topic {topic} leaks into the public document"


def test_payloads_are_the_committed_contracts() -> None:
    for message in asyncapi.public_document()["components"]["messages"].values():
        assert message["payload"] == schemas.load_event_contract(message["name"]), message["name"]


def test_the_key_names_the_aggregate_id_field() -> None:
    message = asyncapi.public_document()["components"]["messages"][CompanyRegisteredV1.event_type]

    assert "`{company_id}`" in message["bindings"]["kafka"]["key"]["description"]


def test_every_message_has_an_example_valid_against_its_contracts() -> None:
    from support.contracts import validate_record  # noqa: PLC0415 - needs jsonschema

    for message in asyncapi.public_document()["components"]["messages"].values():
        (example,) = message["examples"]
        validate_record(example["headers"], json.dumps(example["payload"]).encode())


def test_the_committed_document_is_up_to_date() -> None:
    path = REPO / asyncapi.DOCUMENT_PATH
    assert path.is_file(), f"{path} is missing: {REGENERATE}"
    committed = path.read_text(encoding="utf-8")
    assert committed == asyncapi.render(asyncapi.public_document()), (
        f"{path} is out of date: {REGENERATE}"
    )


def test_the_check_command_fails_on_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "asyncapi.json"
    stale.write_text("{}\n", encoding="utf-8")

    with pytest.raises(SystemExit) as exited:
        asyncapi.main(["--check", "--output", str(stale)])

    assert exited.value.code == 1
    assert "is out of date: run `uv run python -m eci_common.asyncapi" in capsys.readouterr().err
    asyncapi.main(["--output", str(stale)])
    asyncapi.main(["--check", "--output", str(stale)])  # no SystemExit once regenerated


def test_a_service_sends_the_events_of_its_prefix_and_receives_what_it_is_told() -> None:
    registry = asyncapi.asyncapi_document("registry")
    notifications = asyncapi.asyncapi_document(
        "notifications", receives=(CompanyRegisteredV1, CompanyErasedV1)
    )
    assert_well_formed(registry)
    assert_well_formed(notifications)

    assert set(registry["components"]["messages"]) == REGISTRY_TYPES
    assert {op["action"] for op in registry["operations"].values()} == {"send"}
    received = [
        resolve(notifications, resolve(notifications, reference))["name"]
        for operation in notifications["operations"].values()
        if operation["action"] == "receive"
        for reference in operation["messages"]
    ]
    assert received == [CompanyRegisteredV1.event_type, CompanyErasedV1.event_type]
    assert notifications["operations"]["receive.eci.registry.companies"]["channel"] == {
        "$ref": "#/channels/eci.registry.companies"
    }


def test_receiving_a_type_outside_the_catalog_is_refused() -> None:
    class NotCatalogued(EventPayload):
        """Nobody publishes this."""

        event_type: ClassVar[str] = "fr.horlogerie.eci.registry.nothing.happened.v1"
        topic: ClassVar[str] = topics.REGISTRY_COMPANIES

    with pytest.raises(ValueError, match="not in the event catalog"):
        asyncapi.asyncapi_document("notifications", receives=(NotCatalogued,))


def test_sender_is_read_from_the_type_prefix() -> None:
    assert asyncapi.sender_of("fr.horlogerie.eci.projects.call.opened.v1") == "projects"
    assert asyncapi.sender_of("org.example.thing.v1") is None


def test_the_html_page_lists_messages_and_escapes_what_it_shows() -> None:
    document = asyncapi.asyncapi_document("registry")
    document["info"]["title"] = "<script>alert(1)</script>"

    page = render_html(document)

    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    for event_type in REGISTRY_TYPES:
        assert f'id="{event_type}"' in page
    assert "http://" not in page
    assert "https://" not in page.replace("https://schemas.horlogerie.fr/", "")
