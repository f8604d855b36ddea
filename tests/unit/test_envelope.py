"""CloudEvents binary mode: what goes into headers and body, and what is refused on the way in."""

from datetime import UTC, datetime

import pytest

from eci_common.envelope import new_event, read_metadata, read_payload, to_record
from eci_common.errors import MalformedEvent, UnknownEventType
from eci_common.events import catalog
from eci_common.events.registry import CompanyRegisteredV1
from eci_common.topics import REGISTRY_COMPANIES


def _payload() -> CompanyRegisteredV1:
    return CompanyRegisteredV1(
        company_id="c-1",
        version=1,
        legal_name="Cadrans du Doubs",
        country="FR",
        registered_at=datetime(2024, 5, 30, 9, 0, tzinfo=UTC),
    )


def test_record_carries_attributes_as_ce_headers_and_payload_as_body() -> None:
    event = new_event(_payload(), source="/eci/registry", correlation_id="corr-1")
    record = to_record(event)

    assert record.topic == REGISTRY_COMPANIES
    assert record.key == "c-1"
    assert record.headers["ce_specversion"] == "1.0"
    assert record.headers["ce_type"] == "fr.horlogerie.eci.registry.company.registered.v1"
    assert record.headers["ce_source"] == "/eci/registry"
    assert record.headers["ce_id"] == event.meta.id
    assert record.headers["ce_subject"] == "c-1"
    assert record.headers["ce_correlationid"] == "corr-1"
    assert record.headers["ce_causationid"] == "corr-1"
    assert record.headers["content-type"] == "application/json"
    assert read_payload(CompanyRegisteredV1, record.body) == event.data


def test_round_trip_of_metadata() -> None:
    event = new_event(_payload(), source="/eci/registry")
    meta = read_metadata(to_record(event).headers)
    assert meta == event.meta
    # An event that starts a chain correlates to itself.
    assert meta.correlationid == meta.id == meta.causationid


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_type", "ce_time"])
def test_missing_required_attribute_is_malformed_and_named(missing: str) -> None:
    headers = to_record(new_event(_payload(), source="/eci/registry")).headers
    del headers[missing]
    with pytest.raises(MalformedEvent, match=missing.removeprefix("ce_")):
        read_metadata(headers)


def test_other_specversion_or_content_type_is_refused() -> None:
    headers = to_record(new_event(_payload(), source="/eci/registry")).headers
    with pytest.raises(MalformedEvent, match="specversion"):
        read_metadata({**headers, "ce_specversion": "0.3"})
    with pytest.raises(MalformedEvent, match="content type"):
        read_metadata({**headers, "content-type": "application/avro"})


def test_invalid_payload_names_the_field() -> None:
    with pytest.raises(MalformedEvent, match="legal_name"):
        read_payload(CompanyRegisteredV1, b'{"company_id": "c", "version": 1, "country": "FR"}')
    with pytest.raises(MalformedEvent):
        read_payload(CompanyRegisteredV1, b"not json")


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    body = _payload().model_dump_json().replace("{", '{"added_later": 1,', 1).encode()
    assert read_payload(CompanyRegisteredV1, body) == _payload()


def test_catalog_knows_each_type_and_refuses_others() -> None:
    assert catalog.model_for(CompanyRegisteredV1.event_type) is CompanyRegisteredV1
    with pytest.raises(UnknownEventType):
        catalog.model_for("fr.horlogerie.eci.registry.company.registered.v99")
