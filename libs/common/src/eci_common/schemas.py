"""JSON Schemas of our events, generated from the payload models and committed as contracts.

Teams that do not read Python (other languages, a schema registry, documentation) get one JSON
Schema (draft 2020-12) per event type and version under `contracts/events/`, and one for the
Kafka headers of the CloudEvents binary mode under `contracts/envelope/`. The models stay the
single source of truth: `python -m eci_common.schemas` regenerates the files, and
`python -m eci_common.schemas --check` (run by a unit test) fails when they are out of date.

Validating records against these files needs `jsonschema`, a development dependency only, so
it lives in the test support (`tests/support/contracts.py`), not here: the services never
import it at runtime.
"""

import argparse
import difflib
import inspect
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from eci_common.envelope import HEADER_PREFIX, JSON, SPEC_VERSION
from eci_common.events.base import EventPayload
from eci_common.events.catalog import EVENT_MODELS

# A plain path rather than an `importlib.resources` traversable: the generator writes into the
# source tree, and the folder is ordinary package data (hatch ships it in the wheel), so the same
# path also reads fine from an installed package.
CONTRACTS_DIR: Final = Path(__file__).parent / "contracts"

EVENTS_FOLDER: Final = "events"
ENVELOPE_FILE: Final = "envelope/kafka-headers.json"

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URI: Final = "https://schemas.horlogerie.fr/eci"

# Event types are dotted lower-case names ending in their version, e.g.
# `fr.horlogerie.eci.registry.company.registered.v1`: the version in the name is how a breaking
# change ships (a new type next to the old one), so a type without it is a mistake.
EVENT_TYPE_PATTERN: Final = r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+\.v[1-9][0-9]*$"

# Only the contract folders are ours to clean: anything else under CONTRACTS_DIR is left alone.
_MANAGED_FOLDERS: Final = (EVENTS_FOLDER, str(Path(ENVELOPE_FILE).parent))
_DIFF_LINES: Final = 40


def payload_schema(model: type[EventPayload]) -> dict[str, Any]:
    """The JSON Schema of one event type's body (the CloudEvents `data`), from its model.

    Serialization mode describes what producers put on the wire (`model_dump_json`), which is
    what the body of a record is. Fields with a default (including `X | None = None`) are not
    in `required`: pydantic's choice in this mode, and the right one for a contract, because a
    field added later with a default must not make the records already on the topic invalid.
    """
    if not model.__doc__:
        # The docstring becomes the contract's description: readers of the schema have nothing
        # else to tell them what the event means.
        raise ValueError(f"{model.__name__} needs a docstring: it is its contract's description")
    schema = model.model_json_schema(mode="serialization")
    schema.update(
        {
            "$schema": DIALECT,
            "$id": f"{SCHEMA_BASE_URI}/{EVENTS_FOLDER}/{model.event_type}.json",
            "title": model.event_type,
            "description": inspect.cleandoc(model.__doc__),
            "x-event-type": model.event_type,
            "x-topic": model.topic,
            # Said explicitly rather than left to the default: consumers ignore fields they do
            # not know (`extra="ignore"` on EventPayload), so a producer may add an optional
            # field without a new version. A schema forbidding extra properties would make that
            # compatible change fail validation everywhere the schema is enforced.
            "additionalProperties": True,
        }
    )
    return schema


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of a record's Kafka headers: CloudEvents 1.0 attributes in binary mode."""
    non_empty = {"type": "string", "minLength": 1}
    attributes: dict[str, dict[str, Any]] = {
        "id": {**non_empty, "description": "Id of the event, unique for its source."},
        "source": {**non_empty, "description": "Producer of the event, e.g. /eci/registry."},
        "type": {
            "type": "string",
            "pattern": EVENT_TYPE_PATTERN,
            "description": "Event type with its version; names the body's schema.",
        },
        "specversion": {"type": "string", "const": SPEC_VERSION},
        "time": {
            "type": "string",
            "format": "date-time",
            "description": "When the change happened (RFC 3339, with an offset).",
        },
        "subject": {**non_empty, "description": "Aggregate id, the same as the record key."},
        "correlationid": {
            **non_empty,
            "description": "Request or journey that started the chain (the event's own id "
            "when it starts one).",
        },
        "causationid": {
            **non_empty,
            "description": "Event or request that directly caused this one.",
        },
    }
    # `subject` is the only optional attribute we define; `specversion` is required by
    # CloudEvents, and `content-type` always travels because our bodies are always JSON.
    optional = {"subject"}
    properties: dict[str, Any] = {
        f"{HEADER_PREFIX}{name}": schema for name, schema in attributes.items()
    }
    properties["content-type"] = {"type": "string", "const": JSON}
    return {
        "$schema": DIALECT,
        "$id": f"{SCHEMA_BASE_URI}/{ENVELOPE_FILE}",
        "title": "CloudEvents 1.0 Kafka headers (binary content mode)",
        "description": "Attributes of an ECI event as Kafka record headers; the record body is "
        "the payload, described by the schema that `ce_type` names.",
        "type": "object",
        "properties": properties,
        "required": [
            *(f"{HEADER_PREFIX}{name}" for name in attributes if name not in optional),
            "content-type",
        ],
        # Other headers (tracing, future CloudEvents extensions) may ride along; Kafka header
        # values are bytes and ours are always UTF-8 text, so they must at least be strings.
        "additionalProperties": {"type": "string"},
    }


def render(schema: dict[str, Any]) -> str:
    """The committed text of a schema: stable key order, so that diffs show real changes."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def event_contract_name(event_type: str) -> str:
    """The path of an event type's contract, relative to the contracts folder."""
    return f"{EVENTS_FOLDER}/{event_type}.json"


def contract_files() -> dict[str, str]:
    """Every contract the models produce: relative path (with `/`) to its rendered text."""
    files = {
        event_contract_name(model.event_type): render(payload_schema(model))
        for model in EVENT_MODELS
    }
    if len(files) != len(EVENT_MODELS):
        # Two models with one type would silently share (and overwrite) one contract.
        raise ValueError("two models in EVENT_MODELS declare the same event_type")
    files[ENVELOPE_FILE] = render(envelope_schema())
    return files


def load_event_contract(event_type: str, directory: Path = CONTRACTS_DIR) -> dict[str, Any]:
    """The committed schema of an event type, or `LookupError` if no contract describes it."""
    # Looked up among the files present rather than by joining the name to a path: `ce_type`
    # comes from the outside, and must not reach a file outside the events folder.
    known = {path.stem: path for path in (directory / EVENTS_FOLDER).glob("*.json")}
    if event_type not in known:
        raise LookupError(f"no committed contract for event type {event_type!r}")
    schema: dict[str, Any] = json.loads(known[event_type].read_text(encoding="utf-8"))
    return schema


def load_envelope_contract(directory: Path = CONTRACTS_DIR) -> dict[str, Any]:
    """The committed schema of the Kafka headers."""
    schema: dict[str, Any] = json.loads((directory / ENVELOPE_FILE).read_text(encoding="utf-8"))
    return schema


def _present(directory: Path) -> set[str]:
    return {
        path.relative_to(directory).as_posix()
        for folder in _MANAGED_FOLDERS
        for path in (directory / folder).glob("*.json")
    }


def generate(directory: Path = CONTRACTS_DIR) -> list[Path]:
    """Write every contract under `directory`, remove stale ones; the contract paths, sorted.

    Files whose content is already right are not rewritten, so their timestamps stay put.
    """
    expected = contract_files()
    for name in _present(directory) - set(expected):
        (directory / name).unlink()
    written: list[Path] = []
    for name, text in sorted(expected.items()):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check(directory: Path = CONTRACTS_DIR) -> list[str]:
    """What differs between the contracts under `directory` and the models; empty if none.

    One message per file: missing, stale (no model produces it) or changed (with a short diff).
    Nothing is written.
    """
    expected = contract_files()
    present = _present(directory)
    differences = [f"missing: {name}" for name in sorted(set(expected) - present)]
    differences += [
        f"stale: {name} (no model produces it)" for name in sorted(present - set(expected))
    ]
    for name in sorted(set(expected) & present):
        committed = (directory / name).read_text(encoding="utf-8")
        if committed != expected[name]:
            diff = list(
                difflib.unified_diff(
                    committed.splitlines(),
                    expected[name].splitlines(),
                    f"committed/{name}",
                    f"generated/{name}",
                    lineterm="",
                )
            )
            shown = diff[:_DIFF_LINES] + (["..."] if len(diff) > _DIFF_LINES else [])
            differences.append("\n".join([f"changed: {name}", *shown]))
    return differences


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write the contracts, or with `--check` exit 1 if they are out of date."""
    parser = argparse.ArgumentParser(
        prog="python -m eci_common.schemas",
        description="Generate the JSON Schemas of the ECI events from their pydantic models.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list the differences and exit 1 if the files are out of date",
    )
    parser.add_argument(
        "--directory",
        type=Path,
        default=CONTRACTS_DIR,
        help="contracts folder (default: the one shipped in eci_common)",
    )
    args = parser.parse_args(argv)
    directory: Path = args.directory
    differences = check(directory)
    if args.check:
        if differences:
            sys.stderr.write("\n".join(differences) + "\n")
            sys.stderr.write(
                f"{len(differences)} contract file(s) out of date in {directory}: "
                "run `uv run python -m eci_common.schemas`\n"
            )
            raise SystemExit(1)
        sys.stdout.write(f"contracts in {directory} are up to date\n")
        return
    paths = generate(directory)
    for difference in differences:
        sys.stdout.write(difference.splitlines()[0] + "\n")
    sys.stdout.write(f"{len(paths)} contract file(s) in {directory}, {len(differences)} updated\n")


if __name__ == "__main__":
    main()
