"""The example records: one per event type, valid against the committed contracts, and the
integrator guide's examples section in step with them."""

import json

import pytest

from eci_common import examples
from eci_common.events.catalog import EVENT_MODELS
from support.contracts import validate_record
from support.endpoints import REPO

REGENERATE = "run `uv run python -m eci_common.examples` and commit docs/integrators.md"


def test_every_event_type_has_an_example_valid_against_its_contracts() -> None:
    found, problems = examples.collect()

    assert problems == [], "\n".join(problems)
    assert [example.event_type for example in found] == [m.event_type for m in EVENT_MODELS]
    for example in found:
        validate_record(example.headers, json.dumps(example.payload).encode())
        assert example.headers["ce_subject"] == example.key


def test_a_stale_example_is_reported_not_published(monkeypatch: pytest.MonkeyPatch) -> None:
    model = EVENT_MODELS[0]
    broken = {**examples.PAYLOADS[model.event_type], "version": "not a number"}
    monkeypatch.setitem(examples.PAYLOADS, model.event_type, broken)
    monkeypatch.delitem(examples.PAYLOADS, EVENT_MODELS[1].event_type)

    found, problems = examples.collect()

    assert model.event_type not in {example.event_type for example in found}
    assert problems[0].startswith(f"{model.event_type}: the example no longer fits its model")
    assert problems[1] == f"{EVENT_MODELS[1].event_type}: no example payload in eci_common.examples"


def test_the_guide_shows_the_current_examples() -> None:
    guide = REPO / examples.GUIDE_PATH
    text = guide.read_text(encoding="utf-8")
    found, _ = examples.collect()

    assert examples.updated_guide(text, examples.render_section(found)) == text, (
        f"the examples in {guide} are out of date: {REGENERATE}"
    )


def test_the_guide_shows_no_internal_topic() -> None:
    found, _ = examples.collect()
    section = examples.render_section(found)

    assert "eci.registry.contacts" not in section
    assert "contacts-changed" not in section
