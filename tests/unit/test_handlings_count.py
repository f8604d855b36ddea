"""The test helpers that count handlings and make redeliveries: a second handling must show,
and a copy must come after its original (same key), or the duplicate checks prove nothing."""

import json
import random
from pathlib import Path

from support.handlings import Handlings, count_handled
from support.kafka_io import company_records, with_redeliveries
from support.services import ServiceProcess


def _line(event: str, event_id: str) -> str:
    return json.dumps({"event": event, "event_id": event_id, "level": "info"})


def test_counts_each_handling_and_ignores_the_rest() -> None:
    lines = [
        _line("event_handled", "a"),
        _line("event_duplicate_skipped", "a"),
        _line("event_handled", "a"),
        _line("event_handled", "b"),
        '{"event": "event_handled", "event_id": "c"',  # cut short by a kill
        "not json event_handled",
    ]
    assert count_handled(lines) == {"a": 2, "b": 1}


def test_tells_the_starts_of_a_process_apart(tmp_path: Path) -> None:
    log = tmp_path / "projects.log"
    service = ServiceProcess(name="projects", env={}, log_path=log, port=0)
    first = _line("event_handled", "a") + "\n" + _line("event_handled", "b") + "\n"
    second = _line("event_handled", "b") + "\n"
    log.write_text(first + second)
    service.log_starts.extend([0, len(first.encode())])

    handlings = Handlings.of(service)

    assert handlings.twice_in_one_instance() == {}
    assert handlings.repeated() == {"b": 2}
    assert handlings.total == {"a": 1, "b": 2}


def test_redeliveries_follow_their_originals() -> None:
    records = company_records("r", 50)
    stream = with_redeliveries(records, 10, random.Random(1))

    assert len(stream) == 60
    ids = [record.headers["ce_id"] for record in stream]
    for event_id in {i for i in ids if ids.count(i) > 1}:
        first = ids.index(event_id)
        original = next(r for r in records if r.headers["ce_id"] == event_id)
        assert ids.index(event_id, first + 1) > first
        assert stream[first] is original
