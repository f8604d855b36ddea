"""AsyncAPI 3.0 documents of our Kafka topics, generated from the code.

Integrators read the event contracts as AsyncAPI: one message per event type (its `name` is the
CloudEvents type), with the record key, the `ce_*` headers and the JSON Schema of the body.
Everything comes from the code: the catalog (`events.catalog.EVENT_MODELS`: type, topic,
model), the topic lists (`topics.PUBLIC_TOPICS`), the payload and header schemas
(`schemas.payload_schema`, `schemas.envelope_schema`).

- `asyncapi_document(service, receives=...)` describes one service: it *sends* every event whose
  type starts with `fr.horlogerie.eci.<service>.`, and *receives* the models it is told (the
  subscriptions live in the services' lifespans, which this module cannot see).
- `public_document()` describes every event on a public topic, as the platform sends them; it
  is committed as `docs/asyncapi.json` by `python -m eci_common.asyncapi --output
  docs/asyncapi.json`, and `--check` fails when that file is out of date.

Payloads are embedded verbatim, as committed under `contracts/events/`: JSON Schema 2020-12
documents with their own `$id`, so their `#/$defs/...` references resolve inside the payload
schema, as JSON Schema defines, not against the AsyncAPI document.
"""

import argparse
import inspect
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from eci_common import topics
from eci_common.compatibility import load_deprecations
from eci_common.envelope import HEADER_PREFIX, JSON
from eci_common.events.base import EventPayload
from eci_common.events.catalog import EVENT_MODELS
from eci_common.examples import example_for
from eci_common.schemas import envelope_schema, payload_schema

ASYNCAPI_VERSION: Final = "3.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"
EVENT_TYPE_ROOT: Final = "fr.horlogerie.eci"
HEADERS_SCHEMA: Final = "CloudEventsKafkaHeaders"
DOCUMENT_PATH: Final = Path("docs/asyncapi.json")

SERVERS: Final[dict[str, dict[str, str]]] = {
    "production": {
        "host": "kafka:9092",
        "protocol": "kafka",
        "description": "The broker inside the deployment's network (docker compose service "
        "`kafka`). PLAINTEXT today; SASL/SCRAM with an integrator account is to come.",
    },
    "local": {
        "host": "127.0.0.1:9092",
        "protocol": "kafka",
        "description": "The broker of a local run (`make run`, `infra/up.sh`), PLAINTEXT.",
    },
}

# What each public topic carries, for readers of the document; retention and partitions are in
# infra/topics.conf and docs/integrators.md.
TOPIC_DESCRIPTIONS: Final[dict[str, str]] = {
    topics.REGISTRY_COMPANIES: "Companies of the registry: registered, updated, deactivated, "
    "reactivated, erased (GDPR). Keyed by company id.",
    topics.REGISTRY_CLUSTERS: "Clusters (grappes d'entreprises) and their members. Keyed by "
    "cluster id.",
    topics.PROJECTS_PROJECTS: "Collaborative projects, calls for partners, applications, "
    "invitations, partners, milestones. Keyed by project id.",
    topics.NOTIFICATIONS_DELIVERIES: "Delivery outcomes of notifications (no event type yet).",
}


def sender_of(event_type: str) -> str | None:
    """The service that publishes an event type, read from its prefix (`<root>.<service>.…`)."""
    prefix = f"{EVENT_TYPE_ROOT}."
    if not event_type.startswith(prefix):
        return None
    return event_type.removeprefix(prefix).split(".", 1)[0]


def _version() -> str:
    try:
        return metadata.version("eci-common")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def _key_template(model: type[EventPayload]) -> str:
    """What the record key is made of, such as `{company_id}`, read from `partition_key()`.

    The model is built without validation from placeholders named after its fields, so the key
    it returns names the fields it uses: no second place to keep in step with the models.
    """
    placeholders = {name: f"{{{name}}}" for name in model.model_fields}
    try:
        # `model_construct` typed by the pydantic plugin for the base class, which has no fields.
        construct: Callable[..., EventPayload] = model.model_construct
        return str(construct(**placeholders).partition_key())
    except (AttributeError, TypeError, ValueError, NotImplementedError):
        return "{aggregate id}"


def _message(model: type[EventPayload]) -> dict[str, Any]:
    description = inspect.cleandoc(model.__doc__ or "")
    key = _key_template(model)
    message: dict[str, Any] = {
        "name": model.event_type,
        "title": model.__name__,
        "summary": description.splitlines()[0] if description else model.event_type,
        "description": f"{description}\n\nTopic `{model.topic}`, key `{key}` (the aggregate "
        f"id, also in `{HEADER_PREFIX}subject`); the header `{HEADER_PREFIX}type` is "
        f"`{model.event_type}`.",
        "contentType": JSON,
        "headers": {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"},
        "payload": payload_schema(model),
        "correlationId": {
            "description": "The request or journey that started the chain of events.",
            "location": f"$message.header#/{HEADER_PREFIX}correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": f"The aggregate id, `{key}`: the events of one aggregate "
                    "are in one partition, in order.",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    try:
        example = example_for(model)
    except (LookupError, ValueError):
        pass  # a missing or stale example fails `python -m eci_common.examples --check`
    else:
        message["examples"] = [
            {
                "name": "example",
                "summary": f"A {model.event_type} record, as the producer writes it.",
                "headers": example.headers,
                "payload": example.payload,
            }
        ]
    deprecation = load_deprecations().get(model.event_type)
    if deprecation is not None:
        replaced = f", replaced by `{deprecation.replaced_by}`" if deprecation.replaced_by else ""
        message["description"] = (
            f"**Deprecated** since {deprecation.announced.isoformat()}{replaced}; no longer "
            f"emitted from {deprecation.sunset.isoformat()}.\n\n{message['description']}"
        )
        message["x-deprecated"] = {
            "announced": deprecation.announced.isoformat(),
            "sunset": deprecation.sunset.isoformat(),
            "replacedBy": deprecation.replaced_by,
        }
    return message


def _channel(topic: str, message_ids: Iterable[str]) -> dict[str, Any]:
    visibility = "public" if topic in topics.PUBLIC_TOPICS else "internal"
    description = TOPIC_DESCRIPTIONS.get(topic, "")
    return {
        "address": topic,
        "title": topic,
        "description": f"{description} ({visibility} topic)".lstrip(),
        "messages": {
            message_id: {"$ref": f"#/components/messages/{message_id}"}
            for message_id in message_ids
        },
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _operation(action: str, topic: str, models: Sequence[type[EventPayload]]) -> dict[str, Any]:
    verb = "Publishes" if action == "send" else "Consumes"
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{topic}"},
        "summary": f"{verb} {len(models)} event type(s) on {topic}.",
        "messages": [
            {"$ref": f"#/channels/{topic}/messages/{model.event_type}"} for model in models
        ],
    }


def _by_topic(models: Iterable[type[EventPayload]]) -> dict[str, list[type[EventPayload]]]:
    grouped: dict[str, list[type[EventPayload]]] = {}
    for model in models:
        grouped.setdefault(model.topic, []).append(model)
    return grouped


def _document(
    *,
    title: str,
    description: str,
    sends: Sequence[type[EventPayload]],
    receives: Sequence[type[EventPayload]],
    extra_channels: Iterable[str] = (),
) -> dict[str, Any]:
    sent, received = _by_topic(sends), _by_topic(receives)
    addresses = sorted(set(sent) | set(received) | set(extra_channels))
    models = {model.event_type: model for model in (*sends, *receives)}
    channels = {
        topic: _channel(
            topic,
            dict.fromkeys(
                model.event_type for model in (*sent.get(topic, ()), *received.get(topic, ()))
            ),
        )
        for topic in addresses
    }
    operations = {
        f"{action}.{topic}": _operation(action, topic, grouped[topic])
        for action, grouped in (("send", sent), ("receive", received))
        for topic in addresses
        if topic in grouped
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": _version(),
            "description": description,
        },
        "defaultContentType": JSON,
        "servers": SERVERS,
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {HEADERS_SCHEMA: envelope_schema()},
            "messages": {event_type: _message(model) for event_type, model in models.items()},
        },
    }


_COMMON_DESCRIPTION: Final = (
    "Events of the Espace Collaboratif d'Innovation horloger (France Horlogerie), as CloudEvents "
    "1.0 in Kafka binary mode: the attributes are `ce_*` headers, the body is the JSON payload, "
    "the key is the aggregate id. Delivery is at least once: deduplicate on `ce_source` + "
    "`ce_id`. Payload schemas are JSON Schema 2020-12, also published one file per event type."
)


def asyncapi_document(service: str, receives: Iterable[type[EventPayload]] = ()) -> dict[str, Any]:
    """The AsyncAPI document of one service: what it publishes, and the given models it reads."""
    received = tuple(receives)
    unknown = [model.event_type for model in received if model not in EVENT_MODELS]
    if unknown:
        raise ValueError(f"not in the event catalog: {', '.join(unknown)}")
    sends = tuple(model for model in EVENT_MODELS if sender_of(model.event_type) == service)
    return _document(
        title=f"ECI {service}",
        description=f"What the {service} service publishes and consumes. {_COMMON_DESCRIPTION}",
        sends=sends,
        receives=received,
    )


def public_document() -> dict[str, Any]:
    """Every event on a public topic, as the platform sends them: the integrators' document.

    Every public topic is a channel, including those with no event type yet, so that
    integrators see what exists; internal topics (dead letters) are left out.
    """
    return _document(
        title="ECI public events",
        description=f"Every event on the public topics. {_COMMON_DESCRIPTION}",
        sends=tuple(model for model in EVENT_MODELS if model.topic in topics.PUBLIC_TOPICS),
        receives=(),
        extra_channels=topics.PUBLIC_TOPICS,
    )


def render(document: dict[str, Any]) -> str:
    """The committed text: code order is kept (it reads top-down), indented, UTF-8."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write the public document, or with `--check` exit 1 if it is stale."""
    parser = argparse.ArgumentParser(
        prog="python -m eci_common.asyncapi",
        description="Generate the AsyncAPI 3.0 document of the ECI public topics.",
    )
    parser.add_argument(
        "--output", type=Path, default=DOCUMENT_PATH, help=f"default: {DOCUMENT_PATH}"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file is out of date"
    )
    args = parser.parse_args(argv)
    output: Path = args.output
    text = render(public_document())
    if args.check:
        if not output.is_file() or output.read_text(encoding="utf-8") != text:
            sys.stderr.write(
                f"{output} is out of date: run `uv run python -m eci_common.asyncapi "
                f"--output {output}` and commit the result\n"
            )
            raise SystemExit(1)
        sys.stdout.write(f"{output} is up to date\n")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {output}\n")


if __name__ == "__main__":
    main()
