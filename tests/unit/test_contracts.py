"""The committed JSON Schemas: in step with the models, complete, and accepting what we publish.

They are the contract for consumers that do not use our pydantic models, so each test here
checks the files as such a consumer would read them (through `jsonschema`, formats checked).
"""

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from eci_common import schemas
from eci_common.envelope import EventMetadata, new_event, to_record
from eci_common.events.base import EventPayload
from eci_common.events.catalog import EVENT_MODELS
from eci_common.events.notifications import NotificationDeliveredV1, NotificationFailedV1
from eci_common.events.projects import (
    ApplicationSubmittedV1,
    ApplicationSubmittedV2,
    CallForPartnersClosedV1,
    CallForPartnersOpenedV1,
    Candidate,
    CandidatesRankedV1,
    InvitationAcceptedV1,
    InvitationDeclinedV1,
    InvitationSentV1,
    InvitationSentV2,
    MilestoneReachedV1,
    PartnerAcceptedV1,
    PartnerDeclinedV1,
    ProjectProposedV1,
    ProjectStatusChangedV1,
    ProjectUpdatedV1,
)
from eci_common.events.registry import (
    ClusterClosedV1,
    ClusterCreatedV1,
    ClusterUpdatedV1,
    CompanyContactsChangedV1,
    CompanyDeactivatedV1,
    CompanyErasedV1,
    CompanyReactivatedV1,
    CompanyRegisteredV1,
    CompanyUpdatedV1,
    ContactV1,
    MemberJoinedV1,
    MemberLeftV1,
)
from support.contracts import validate_record

REGENERATE = "run `uv run python -m eci_common.schemas` and commit the result"
AT = datetime(2024, 5, 30, 9, 15, 42, 123456, tzinfo=UTC)

# One realistic payload per model, every optional field that exists in the model filled in
# somewhere, so that their types are validated too.
SAMPLES: dict[type[EventPayload], EventPayload] = {
    CompanyRegisteredV1: CompanyRegisteredV1(
        company_id="cmp-01HZX3K9",
        version=1,
        legal_name="Cadrans du Doubs SAS",
        siren="552100554",
        country="FR",
        region="Bourgogne-Franche-Comté",
        city="Besançon",
        website="https://cadrans-du-doubs.example",
        headcount_band="10-49",
        membership="member",
        roles=["subcontractor"],
        capabilities=["dials.guilloche", "dials.enamel"],
        registered_at=AT,
    ),
    CompanyUpdatedV1: CompanyUpdatedV1(
        company_id="cmp-01HZX3K9",
        version=2,
        legal_name="Cadrans du Doubs SAS",
        country="FR",
        city="Morteau",
        headcount_band="50-249",
        changed_fields=["city", "headcount_band"],
        updated_at=AT,
    ),
    CompanyDeactivatedV1: CompanyDeactivatedV1(
        company_id="cmp-01HZX3K9",
        version=3,
        reason="membership fee unpaid",
        deactivated_at=AT,
    ),
    CompanyReactivatedV1: CompanyReactivatedV1(
        company_id="cmp-01HZX3K9", version=4, reactivated_at=AT
    ),
    CompanyErasedV1: CompanyErasedV1(company_id="cmp-01HZX3K9", version=5, erased_at=AT),
    CompanyContactsChangedV1: CompanyContactsChangedV1(
        company_id="cmp-01HZX3K9",
        version=2,
        contacts=[
            ContactV1(
                name="Anne Exemple",
                email="anne@cadrans-du-doubs.example",
                language="en",
                consent=True,
                consent_at=AT,
                role="R&D",
            )
        ],
        changed_at=AT,
    ),
    NotificationDeliveredV1: NotificationDeliveredV1(
        notification_id="9f2c61d0a4b3e8f7",
        version=2,
        channel="email",
        kind="member_joined",
        cause_event_type="fr.horlogerie.eci.registry.cluster.member-joined.v1",
        cause_event_id="4f1e2d3c-0000-4000-8000-000000000001",
        recipient_company_id="cmp-01HZX3K9",
        attempts=1,
        delivered_at=AT,
    ),
    NotificationFailedV1: NotificationFailedV1(
        notification_id="0a1b2c3d4e5f6a7b",
        version=6,
        channel="webhook",
        kind="call_opened",
        cause_event_type="fr.horlogerie.eci.projects.call.opened.v1",
        cause_event_id="4f1e2d3c-0000-4000-8000-000000000002",
        subscription_id="sub-erp-01",
        attempts=5,
        reason="HTTP 503 from the endpoint",
        failed_at=AT,
    ),
    ClusterCreatedV1: ClusterCreatedV1(
        cluster_id="cls-mouvements",
        version=1,
        code="mouvements",
        name="Mouvements mécaniques",
        theme="movements",
        description="Calibres, spiraux et assortiments, du prototype à la petite série.",
        created_at=AT,
    ),
    ClusterUpdatedV1: ClusterUpdatedV1(
        cluster_id="cls-mouvements",
        version=2,
        name="Mouvements mécaniques et complications",
        theme="movements",
        changed_fields=["name"],
        updated_at=AT,
    ),
    ClusterClosedV1: ClusterClosedV1(cluster_id="cls-mouvements", version=3, closed_at=AT),
    MemberJoinedV1: MemberJoinedV1(
        cluster_id="cls-mouvements",
        version=4,
        company_id="cmp-01HZX3K9",
        role="animator",
        joined_at=AT,
    ),
    MemberLeftV1: MemberLeftV1(
        cluster_id="cls-mouvements",
        version=5,
        company_id="cmp-01HZX3K9",
        reason="erased",
        left_at=AT,
    ),
}

_PROJECT = {
    "project_id": "prj-spiral",
    "cluster_id": "cls-mouvements",
    "lead_company_id": "cmp-01HZX3K9",
    "title": "Spiral silicium",
    "summary": "Un spiral en silicium pour les calibres de la grappe.",
    "kind": "innovation",
    "needed_capabilities": ["movements.escapement", "dials"],
    "visibility": "cluster",
    "budget_eur": 250000,
    "starts_on": date(2025, 1, 6),
    "ends_on": date(2026, 6, 30),
}
SAMPLES.update(
    {
        ProjectProposedV1: ProjectProposedV1(**_PROJECT, version=1, proposed_at=AT),
        ProjectUpdatedV1: ProjectUpdatedV1(
            **_PROJECT, version=2, changed_fields=["budget_eur"], updated_at=AT
        ),
        ProjectStatusChangedV1: ProjectStatusChangedV1(
            project_id="prj-spiral",
            version=3,
            from_status="open_for_partners",
            to_status="active",
            partner_company_ids=["cmp-02"],
            changed_at=AT,
        ),
        CallForPartnersOpenedV1: CallForPartnersOpenedV1(
            project_id="prj-spiral",
            version=3,
            cluster_id="cls-mouvements",
            lead_company_id="cmp-01HZX3K9",
            title="Spiral silicium",
            needed_capabilities=["movements.escapement"],
            deadline=date(2025, 3, 31),
            opened_at=AT,
        ),
        CallForPartnersClosedV1: CallForPartnersClosedV1(
            project_id="prj-spiral", version=6, reason="project_activated", closed_at=AT
        ),
        CandidatesRankedV1: CandidatesRankedV1(
            project_id="prj-spiral",
            version=3,
            cluster_id="cls-mouvements",
            needed_capabilities=["movements.escapement"],
            candidates=[
                Candidate(
                    company_id="cmp-02",
                    rank=1,
                    covered_capabilities=["movements.escapement"],
                    same_cluster=True,
                    same_region=True,
                    reasons=["covers 1 of 1 needed capabilities: movements.escapement"],
                )
            ],
            ranked_at=AT,
        ),
        ApplicationSubmittedV1: ApplicationSubmittedV1(
            project_id="prj-spiral",
            version=4,
            application_id="app-1",
            company_id="cmp-02",
            lead_company_id="cmp-01HZX3K9",
            submitted_at=AT,
        ),
        ApplicationSubmittedV2: ApplicationSubmittedV2(
            project_id="prj-spiral",
            version=4,
            application_id="app-1",
            company_id="cmp-02",
            lead_company_id="cmp-01HZX3K9",
            has_message=True,
            submitted_at=AT,
        ),
        PartnerAcceptedV1: PartnerAcceptedV1(
            project_id="prj-spiral",
            version=5,
            company_id="cmp-02",
            via="application",
            reference_id="app-1",
            accepted_at=AT,
        ),
        PartnerDeclinedV1: PartnerDeclinedV1(
            project_id="prj-spiral",
            version=5,
            company_id="cmp-03",
            application_id="app-2",
            declined_at=AT,
        ),
        InvitationSentV1: InvitationSentV1(
            project_id="prj-spiral",
            version=5,
            invitation_id="inv-1",
            company_id="cmp-04",
            sent_at=AT,
        ),
        InvitationSentV2: InvitationSentV2(
            project_id="prj-spiral",
            version=5,
            invitation_id="inv-1",
            company_id="cmp-04",
            has_message=True,
            sent_at=AT,
        ),
        InvitationAcceptedV1: InvitationAcceptedV1(
            project_id="prj-spiral",
            version=6,
            invitation_id="inv-1",
            company_id="cmp-04",
            accepted_at=AT,
        ),
        InvitationDeclinedV1: InvitationDeclinedV1(
            project_id="prj-spiral",
            version=6,
            invitation_id="inv-1",
            company_id="cmp-04",
            declined_at=AT,
        ),
        MilestoneReachedV1: MilestoneReachedV1(
            project_id="prj-spiral",
            version=7,
            milestone_id="ms-1",
            title="Prototype",
            lead_company_id="cmp-01HZX3K9",
            partner_company_ids=["cmp-02", "cmp-04"],
            reached_at=AT,
        ),
    }
)


def _record(model: type[EventPayload]) -> tuple[dict[str, str], bytes]:
    record = to_record(new_event(SAMPLES[model], source="/eci/registry"))
    return record.headers, record.body


def _with(body: bytes, **changes: Any) -> bytes:
    return json.dumps({**json.loads(body), **changes}).encode()


def _without(body: bytes, field: str) -> bytes:
    document = json.loads(body)
    del document[field]
    return json.dumps(document).encode()


# --- the files are the models' ---------------------------------------------------------------


def test_committed_contracts_are_what_the_models_generate() -> None:
    differences = schemas.check()
    assert not differences, (
        "the committed JSON Schemas are out of date: " + REGENERATE + "\n" + "\n".join(differences)
    )


def test_every_model_has_a_contract_file_and_every_file_a_model() -> None:
    files = {path.stem for path in (schemas.CONTRACTS_DIR / "events").glob("*.json")}
    types = {model.event_type for model in EVENT_MODELS}
    assert types - files == set(), f"models without a contract: {REGENERATE}"
    assert files - types == set(), f"contracts without a model: {REGENERATE}"
    assert (schemas.CONTRACTS_DIR / schemas.ENVELOPE_FILE).is_file()


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda model: model.event_type)
def test_contract_is_a_valid_schema_naming_its_type_and_topic(model: type[EventPayload]) -> None:
    schema = schemas.load_event_contract(model.event_type)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == schema["x-event-type"] == model.event_type
    assert schema["x-topic"] == model.topic
    assert schema["$id"].endswith(f"/events/{model.event_type}.json")
    assert schema["description"]
    # Every field of the model is described, and nothing else.
    assert set(schema["properties"]) == set(model.model_fields)


def test_envelope_contract_is_valid_and_covers_every_cloudevents_attribute() -> None:
    schema = schemas.load_envelope_contract()
    Draft202012Validator.check_schema(schema)
    carried = {f"ce_{name}" for name in EventMetadata.model_fields if name != "datacontenttype"}
    assert set(schema["properties"]) == carried | {"content-type"}
    assert set(schema["required"]) == carried - {"ce_subject"} | {"content-type"}


def test_no_contract_forbids_unknown_fields() -> None:
    # Consumers ignore unknown fields, so adding an optional one is not a breaking change: a
    # schema closed anywhere (even in a nested object) would make it one.
    def closed_places(node: Any, path: str) -> list[str]:
        if isinstance(node, dict):
            here = [path] if node.get("additionalProperties") is False else []
            return here + [
                place
                for key, value in node.items()
                for place in closed_places(value, f"{path}/{key}")
            ]
        if isinstance(node, list):
            return [
                place
                for index, value in enumerate(node)
                for place in closed_places(value, f"{path}/{index}")
            ]
        return []

    for model in EVENT_MODELS:
        schema = schemas.load_event_contract(model.event_type)
        assert schema["additionalProperties"] is True
        assert closed_places(schema, model.event_type) == []


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda model: model.event_type)
def test_fields_outside_required_really_are_optional(model: type[EventPayload]) -> None:
    # The schema must not promise less than the model needs: a body holding only the fields
    # the schema requires is one that the model (what our consumers use) accepts.
    schema = schemas.load_event_contract(model.event_type)
    full = json.loads(SAMPLES[model].model_dump_json())
    minimal = {name: full[name] for name in schema["required"]}
    model.model_validate(minimal)
    # And what it requires really is required: each one missing makes the model refuse it.
    for name in schema["required"]:
        with pytest.raises(ValueError, match=name):
            model.model_validate({key: value for key, value in minimal.items() if key != name})


# --- what we publish validates -----------------------------------------------------------------


def test_every_model_has_a_sample() -> None:
    assert set(SAMPLES) == set(EVENT_MODELS), "add a sample payload for each new event model"
    for model, sample in SAMPLES.items():
        assert type(sample) is model


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda model: model.event_type)
def test_published_record_validates_against_the_contracts(model: type[EventPayload]) -> None:
    headers, body = _record(model)
    validate_record(headers, body)


def test_unknown_body_fields_are_accepted() -> None:
    headers, body = _record(CompanyRegisteredV1)
    validate_record(headers, _with(body, added_in_a_later_release={"any": "thing"}))


def test_record_without_subject_is_valid() -> None:
    headers, body = _record(ClusterClosedV1)
    del headers["ce_subject"]
    validate_record(headers, body)


# --- and what we must not publish does not -----------------------------------------------------


def test_body_missing_a_required_field_is_refused() -> None:
    headers, body = _record(CompanyRegisteredV1)
    with pytest.raises(ValueError, match="'legal_name' is a required property"):
        validate_record(headers, _without(body, "legal_name"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("version", "1", "'1' is not of type 'integer'"),
        ("version", 0, "0 is less than the minimum of 1"),
        ("membership", "sponsor", "'sponsor' is not one of"),
        ("capabilities", "dials.enamel", "'dials.enamel' is not of type 'array'"),
        ("siren", 552100554, "552100554 is not valid under any of the given schemas"),
    ],
)
def test_body_with_a_wrong_value_is_refused(field: str, value: Any, message: str) -> None:
    headers, body = _record(CompanyRegisteredV1)
    with pytest.raises(ValueError, match=rf"\$\.{field}: {message}"):
        validate_record(headers, _with(body, **{field: value}))


@pytest.mark.parametrize(
    "timestamp", ["2024-05-30T09:15:42", "2024-02-30T09:15:42Z", "30/05/2024 09:15", ""]
)
def test_body_timestamp_must_be_rfc3339_with_an_offset(timestamp: str) -> None:
    # A naive datetime in a payload serializes without an offset: the format check catches it
    # (jsonschema alone would not check date-time at all without an optional package).
    headers, body = _record(MemberJoinedV1)
    with pytest.raises(ValueError, match=r"\$\.joined_at: .* is not a 'date-time'"):
        validate_record(headers, _with(body, joined_at=timestamp))


def test_body_that_is_not_json_is_refused() -> None:
    headers, _ = _record(CompanyErasedV1)
    with pytest.raises(ValueError, match="not JSON"):
        validate_record(headers, b"\x00not json")


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_type", "ce_time", "content-type"])
def test_headers_missing_a_required_attribute_are_refused(missing: str) -> None:
    headers, body = _record(CompanyRegisteredV1)
    del headers[missing]
    with pytest.raises(ValueError, match=f"'{missing}' is a required property"):
        validate_record(headers, body)


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("ce_specversion", "0.3", "'1.0' was expected"),
        ("content-type", "application/avro", "'application/json' was expected"),
        ("ce_time", "2024-05-30 09:15", "is not a 'date-time'"),
        ("ce_id", "", "should be non-empty"),
        ("ce_type", "fr.horlogerie.eci.registry.company.registered", "does not match"),
    ],
)
def test_headers_with_a_wrong_value_are_refused(header: str, value: str, message: str) -> None:
    headers, body = _record(CompanyRegisteredV1)
    with pytest.raises(ValueError, match=rf"invalid CloudEvents headers: .*{message}"):
        validate_record({**headers, header: value}, body)


def test_unknown_event_type_is_refused() -> None:
    headers, body = _record(CompanyRegisteredV1)
    unknown = "fr.horlogerie.eci.registry.company.registered.v99"
    with pytest.raises(ValueError, match=f"no committed contract for event type '{unknown}'"):
        validate_record({**headers, "ce_type": unknown}, body)


def test_body_is_checked_against_the_schema_its_type_names() -> None:
    # A valid company body announced as a cluster event fails: the type picks the schema.
    headers, body = _record(CompanyRegisteredV1)
    with pytest.raises(ValueError, match="'cluster_id' is a required property"):
        validate_record({**headers, "ce_type": ClusterClosedV1.event_type}, body)


# --- the generator and its command line -------------------------------------------------------


def test_check_reports_missing_stale_and_changed_files(tmp_path: Path) -> None:
    written = schemas.generate(tmp_path)
    assert len(written) == len(EVENT_MODELS) + 1
    assert schemas.check(tmp_path) == []

    registered = tmp_path / "events" / f"{CompanyRegisteredV1.event_type}.json"
    registered.unlink()
    erased = tmp_path / "events" / f"{CompanyErasedV1.event_type}.json"
    erased.write_text(erased.read_text(encoding="utf-8").replace("erased_at", "erased_on"))
    stale = tmp_path / "events" / "fr.horlogerie.eci.registry.company.merged.v1.json"
    stale.write_text("{}\n")

    differences = schemas.check(tmp_path)
    assert differences[0] == f"missing: events/{CompanyRegisteredV1.event_type}.json"
    assert differences[1] == f"stale: events/{stale.name} (no model produces it)"
    assert differences[2].startswith(f"changed: events/{CompanyErasedV1.event_type}.json\n")
    assert '+    "erased_at"' in differences[2]
    assert len(differences) == 3

    schemas.generate(tmp_path)
    assert schemas.check(tmp_path) == []
    assert not stale.exists()


def test_command_line_check_exits_1_when_out_of_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        schemas.main(["--check", "--directory", str(tmp_path)])
    assert exited.value.code == 1
    assert "run `uv run python -m eci_common.schemas`" in capsys.readouterr().err

    schemas.main(["--directory", str(tmp_path)])
    schemas.main(["--check", "--directory", str(tmp_path)])
    assert "up to date" in capsys.readouterr().out


def test_validation_uses_the_files_not_the_models(tmp_path: Path) -> None:
    # Proof that validate_record reads the committed files: a contract edited on disk changes
    # the verdict, with the models untouched.
    schemas.generate(tmp_path)
    path = tmp_path / "events" / f"{ClusterClosedV1.event_type}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["required"].append("closed_by")
    path.write_text(schemas.render(schema), encoding="utf-8")
    headers, body = _record(ClusterClosedV1)
    validate_record(headers, body)
    with pytest.raises(ValueError, match="'closed_by' is a required property"):
        validate_record(headers, body, directory=tmp_path)
