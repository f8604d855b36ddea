"""One example record of every event type, for the integrator guide and the AsyncAPI document.

The payloads are written here by hand, as realistic as a demo, and every use goes through the
event's model and the real envelope code (`envelope.to_record`). The headers, key and body shown
are therefore exactly what the producer would put on the wire, and an example that no longer
fits its model is reported rather than published.

`python -m eci_common.examples --guide docs/integrators.md` rewrites the examples section of the
guide (between the two markers); `--check` fails when that section is out of date, or when an
event type of the catalog has no example, or an example no longer validates.
"""

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from eci_common import topics
from eci_common.envelope import Event, EventMetadata, to_record
from eci_common.events.base import EventPayload
from eci_common.events.catalog import EVENT_MODELS

GUIDE_PATH: Final = Path("docs/integrators.md")
BEGIN_MARKER: Final = "<!-- BEGIN generated examples: python -m eci_common.examples -->"
END_MARKER: Final = "<!-- END generated examples -->"

REGISTRY: Final = "fr.horlogerie.eci.registry"
PROJECTS: Final = "fr.horlogerie.eci.projects"
NOTIFICATIONS: Final = "fr.horlogerie.eci.notifications"

# Fixed ids, so that the generated text only changes when a payload or the envelope does.
COMPANY: Final = "5b0e9f4e-6a3c-4f0e-9a51-2f8d7c1b3e21"
PARTNER: Final = "c1d7a2b4-0e8f-4b6a-b3c2-9e5f1a7d4c08"
CLUSTER: Final = "0f6d3c2a-8b1e-4d7f-a5c9-3e2b1f0a9d84"
PROJECT: Final = "9a4e2c7b-1d3f-4e8a-b6c5-7f0d2e1a3b96"
APPLICATION: Final = "e3b8f1a2-5c7d-4a9e-8f0b-1d2c3e4f5a67"
INVITATION: Final = "7c2d9e1f-3a4b-4c5d-9e6f-0a1b2c3d4e58"
MILESTONE: Final = "2e4f6a8c-0b1d-4e3f-a5b7-c9d1e3f5a7b9"
NOTIFICATION: Final = "4d6f8a0c-2e4a-4b6c-8d0e-f1a3b5c7d9e2"
CORRELATION: Final = "essai-001"
WHEN: Final = "2026-11-16T09:30:00Z"

PAYLOADS: Final[dict[str, dict[str, Any]]] = {
    f"{REGISTRY}.company.registered.v1": {
        "company_id": COMPANY,
        "version": 1,
        "legal_name": "Cadrans du Haut-Doubs SAS",
        "siren": "732829320",
        "country": "FR",
        "region": "Bourgogne-Franche-Comté",
        "city": "Morteau",
        "website": "https://cadrans-haut-doubs.example",
        "headcount_band": "10-49",
        "membership": "member",
        "roles": ["dial_maker"],
        "capabilities": ["dials.enamel", "dials.appliques_indexes"],
        "registered_at": WHEN,
    },
    f"{REGISTRY}.company.updated.v1": {
        "company_id": COMPANY,
        "version": 2,
        "legal_name": "Cadrans du Haut-Doubs SAS",
        "siren": "732829320",
        "country": "FR",
        "region": "Bourgogne-Franche-Comté",
        "city": "Maîche",
        "headcount_band": "50-249",
        "roles": ["dial_maker"],
        "capabilities": ["dials.enamel", "dials.appliques_indexes"],
        "changed_fields": ["city", "headcount_band"],
        "updated_at": "2026-11-17T14:05:00Z",
    },
    f"{REGISTRY}.company.deactivated.v1": {
        "company_id": COMPANY,
        "version": 3,
        "reason": "membership fee unpaid",
        "deactivated_at": "2026-11-18T08:00:00Z",
    },
    f"{REGISTRY}.company.reactivated.v1": {
        "company_id": COMPANY,
        "version": 4,
        "reactivated_at": "2026-11-19T08:00:00Z",
    },
    f"{REGISTRY}.company.erased.v1": {
        "company_id": COMPANY,
        "version": 5,
        "erased_at": "2026-11-20T08:00:00Z",
    },
    # Internal topic (personal data): shown in the registry's own AsyncAPI document, never in
    # the integrators' one. The person is fictitious.
    f"{REGISTRY}.company.contacts-changed.v1": {
        "company_id": COMPANY,
        "version": 2,
        "contacts": [
            {
                "name": "Claire Exemple",
                "email": "claire@cadrans-haut-doubs.example",
                "language": "fr",
                "consent": True,
                "consent_at": WHEN,
                "role": "Direction industrielle",
            }
        ],
        "changed_at": WHEN,
    },
    f"{REGISTRY}.cluster.created.v1": {
        "cluster_id": CLUSTER,
        "version": 1,
        "code": "cadrans",
        "name": "Grappe Cadrans",
        "theme": "dials",
        "description": "Émail grand feu, appliques et index : du prototype à la petite série.",
        "created_at": WHEN,
    },
    f"{REGISTRY}.cluster.updated.v1": {
        "cluster_id": CLUSTER,
        "version": 2,
        "name": "Grappe Cadrans",
        "theme": "dials",
        "description": "Émail, appliques, index et traitements galvaniques.",
        "changed_fields": ["description"],
        "updated_at": "2026-11-17T10:00:00Z",
    },
    f"{REGISTRY}.cluster.closed.v1": {
        "cluster_id": CLUSTER,
        "version": 5,
        "closed_at": "2026-12-31T17:00:00Z",
    },
    f"{REGISTRY}.cluster.member-joined.v1": {
        "cluster_id": CLUSTER,
        "version": 3,
        "company_id": COMPANY,
        "role": "animator",
        "joined_at": "2026-11-16T10:00:00Z",
    },
    f"{REGISTRY}.cluster.member-left.v1": {
        "cluster_id": CLUSTER,
        "version": 4,
        "company_id": COMPANY,
        "reason": "left",
        "left_at": "2026-12-01T10:00:00Z",
    },
    f"{PROJECTS}.project.proposed.v1": {
        "project_id": PROJECT,
        "version": 1,
        "cluster_id": CLUSTER,
        "lead_company_id": COMPANY,
        "title": "Cadran émail grand feu en petite série",
        "summary": "Industrialiser un cadran émail pour une série de 300 pièces.",
        "kind": "new_process",
        "needed_capabilities": ["dials.enamel", "process_automation.laser_processes"],
        "visibility": "cluster",
        "budget_eur": 120000,
        "starts_on": "2027-01-04",
        "ends_on": "2027-09-30",
        "proposed_at": WHEN,
    },
    f"{PROJECTS}.project.updated.v1": {
        "project_id": PROJECT,
        "version": 2,
        "cluster_id": CLUSTER,
        "lead_company_id": COMPANY,
        "title": "Cadran émail grand feu en petite série",
        "summary": "Industrialiser un cadran émail pour une série de 500 pièces.",
        "kind": "new_process",
        "needed_capabilities": ["dials.enamel", "process_automation.laser_processes"],
        "visibility": "all_members",
        "budget_eur": 150000,
        "starts_on": "2027-01-04",
        "ends_on": "2027-09-30",
        "changed_fields": ["summary", "visibility", "budget_eur"],
        "updated_at": "2026-11-17T11:00:00Z",
    },
    f"{PROJECTS}.project.status-changed.v1": {
        "project_id": PROJECT,
        "version": 6,
        "from_status": "open_for_partners",
        "to_status": "active",
        "partner_company_ids": [PARTNER],
        "changed_at": "2026-12-05T09:00:00Z",
    },
    f"{PROJECTS}.call.opened.v1": {
        "project_id": PROJECT,
        "version": 3,
        "cluster_id": CLUSTER,
        "lead_company_id": COMPANY,
        "title": "Cadran émail grand feu en petite série",
        "needed_capabilities": ["process_automation.laser_processes"],
        "deadline": "2026-12-15",
        "visibility": "cluster",
        "opened_at": "2026-11-18T09:00:00Z",
    },
    f"{PROJECTS}.call.closed.v1": {
        "project_id": PROJECT,
        "version": 6,
        "reason": "project_activated",
        "closed_at": "2026-12-05T09:00:00Z",
    },
    f"{PROJECTS}.call.candidates-ranked.v1": {
        "project_id": PROJECT,
        "version": 3,
        "cluster_id": CLUSTER,
        "needed_capabilities": ["process_automation.laser_processes"],
        "candidates": [
            {
                "company_id": PARTNER,
                "rank": 1,
                "covered_capabilities": ["process_automation.laser_processes"],
                "same_cluster": True,
                "same_region": True,
                "reasons": ["covers 1 of 1 needed capabilities", "member of the cluster"],
            }
        ],
        "ranked_at": "2026-11-18T09:00:01Z",
    },
    f"{PROJECTS}.application.submitted.v1": {
        "project_id": PROJECT,
        "version": 4,
        "application_id": APPLICATION,
        "company_id": PARTNER,
        "lead_company_id": COMPANY,
        "message": "",
        "submitted_at": "2026-11-20T16:45:00Z",
    },
    f"{PROJECTS}.application.submitted.v2": {
        "project_id": PROJECT,
        "version": 4,
        "application_id": APPLICATION,
        "company_id": PARTNER,
        "lead_company_id": COMPANY,
        "has_message": True,
        "submitted_at": "2026-11-20T16:45:00Z",
    },
    f"{PROJECTS}.partner.accepted.v1": {
        "project_id": PROJECT,
        "version": 5,
        "company_id": PARTNER,
        "via": "application",
        "reference_id": APPLICATION,
        "accepted_at": "2026-11-22T09:00:00Z",
    },
    f"{PROJECTS}.partner.declined.v1": {
        "project_id": PROJECT,
        "version": 5,
        "company_id": PARTNER,
        "application_id": APPLICATION,
        "declined_at": "2026-11-22T09:00:00Z",
    },
    f"{PROJECTS}.invitation.sent.v1": {
        "project_id": PROJECT,
        "version": 4,
        "invitation_id": INVITATION,
        "company_id": PARTNER,
        "message": "",
        "sent_at": "2026-11-19T10:00:00Z",
    },
    f"{PROJECTS}.invitation.sent.v2": {
        "project_id": PROJECT,
        "version": 4,
        "invitation_id": INVITATION,
        "company_id": PARTNER,
        "has_message": True,
        "sent_at": "2026-11-19T10:00:00Z",
    },
    f"{PROJECTS}.invitation.accepted.v1": {
        "project_id": PROJECT,
        "version": 5,
        "invitation_id": INVITATION,
        "company_id": PARTNER,
        "accepted_at": "2026-11-21T10:00:00Z",
    },
    f"{PROJECTS}.invitation.declined.v1": {
        "project_id": PROJECT,
        "version": 5,
        "invitation_id": INVITATION,
        "company_id": PARTNER,
        "declined_at": "2026-11-21T10:00:00Z",
    },
    f"{PROJECTS}.milestone.reached.v1": {
        "project_id": PROJECT,
        "version": 7,
        "milestone_id": MILESTONE,
        "title": "Premier prototype émaillé",
        "lead_company_id": COMPANY,
        "partner_company_ids": [PARTNER],
        "reached_at": "2027-03-01T15:00:00Z",
    },
    f"{NOTIFICATIONS}.delivery.delivered.v1": {
        "notification_id": NOTIFICATION,
        "version": 1,
        "channel": "email",
        "kind": "call_opened",
        "cause_event_type": f"{PROJECTS}.call.opened.v1",
        "cause_event_id": "1f0c7e52-3b9d-5a1e-8c4f-6d2a9b7e0c13",
        "recipient_company_id": PARTNER,
        "attempts": 1,
        "delivered_at": "2026-11-18T09:00:05Z",
    },
    f"{NOTIFICATIONS}.delivery.failed.v1": {
        "notification_id": NOTIFICATION,
        "version": 2,
        "channel": "webhook",
        "kind": "call_opened",
        "cause_event_type": f"{PROJECTS}.call.opened.v1",
        "cause_event_id": "1f0c7e52-3b9d-5a1e-8c4f-6d2a9b7e0c13",
        "subscription_id": "whs-erp-cadrans",
        "attempts": 5,
        "reason": "http_503",
        "failed_at": "2026-11-18T10:12:00Z",
    },
}


@dataclass(frozen=True, slots=True)
class Example:
    """One record as a producer would write it: topic, key, headers and the parsed body."""

    event_type: str
    topic: str
    key: str
    headers: dict[str, str]
    payload: dict[str, Any]


def example_for(model: type[EventPayload]) -> Example:
    """The example record of an event type: `LookupError` if none, `ValueError` if stale."""
    if model.event_type not in PAYLOADS:
        raise LookupError(f"{model.event_type}: no example payload in eci_common.examples")
    try:
        data = model.model_validate(PAYLOADS[model.event_type])
    except ValidationError as exc:
        raise ValueError(
            f"{model.event_type}: the example no longer fits its model: {exc}"
        ) from None
    service = model.event_type.removeprefix("fr.horlogerie.eci.").split(".", 1)[0]
    meta = EventMetadata(
        # A name-based UUID: a real id's shape, the same on every run.
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, model.event_type)),
        source=f"/eci/{service}",
        type=model.event_type,
        time=datetime.fromisoformat(WHEN).astimezone(UTC),
        subject=data.partition_key(),
        correlationid=CORRELATION,
        causationid=CORRELATION,
    )
    record = to_record(Event(meta=meta, data=data))
    return Example(
        event_type=model.event_type,
        topic=record.topic,
        key=record.key,
        headers=record.headers,
        payload=json.loads(record.body),
    )


def collect() -> tuple[list[Example], list[str]]:
    """The example of every event type of the catalog, and what is missing or stale."""
    found: list[Example] = []
    problems: list[str] = []
    for model in EVENT_MODELS:
        try:
            found.append(example_for(model))
        except (LookupError, ValueError) as exc:
            problems.append(str(exc))
    known = {model.event_type for model in EVENT_MODELS}
    problems += [
        f"{name}: example of an event type not in the catalog"
        for name in PAYLOADS
        if name not in known
    ]
    return found, problems


def render_section(examples: Sequence[Example]) -> str:
    """The Markdown of the guide's examples: one whole record, then every public event's body.

    Events on internal topics are left out: integrators do not read those topics.
    """
    public = [example for example in examples if example.topic in topics.PUBLIC_TOPICS]
    lines = [
        BEGIN_MARKER,
        "",
        "Generated by `python -m eci_common.examples` from the payloads in "
        "`eci_common/examples.py`, through the event models and the envelope code, so these "
        "are exactly the records a producer writes. Ids and times are fixed for the example.",
    ]
    if public:
        whole = public[0]
        lines += [
            "",
            f"### A whole record: `{whole.event_type}`",
            "",
            f"Topic `{whole.topic}`, key `{whole.key}`, headers:",
            "",
            "```json",
            json.dumps(whole.headers, indent=2, ensure_ascii=False),
            "```",
            "",
            "The body is the JSON payload, shown below for each event type.",
        ]
    # Topics in the order the catalog first names them (companies, clusters, projects, ...).
    order = {example.topic: index for index, example in reversed(list(enumerate(public)))}
    topic = None
    for example in sorted(public, key=lambda found: order[found.topic]):
        if example.topic != topic:
            topic = example.topic
            lines += ["", f"### Topic `{topic}`"]
        lines += [
            "",
            f"#### `{example.event_type}`",
            "",
            f"Key `{example.key}`. Body:",
            "",
            "```json",
            json.dumps(example.payload, indent=2, ensure_ascii=False),
            "```",
        ]
    lines += ["", END_MARKER]
    return "\n".join(lines)


def updated_guide(text: str, section: str) -> str:
    """The guide with its examples section replaced; `ValueError` if the markers are missing."""
    start, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"the guide lacks the markers {BEGIN_MARKER!r} ... {END_MARKER!r}")
    return text[:start] + section + text[end + len(END_MARKER) :]


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: rewrite the guide's examples, or with `--check` exit 1 if out of date."""
    parser = argparse.ArgumentParser(
        prog="python -m eci_common.examples",
        description="Write the example payload of every event type into the integrator guide.",
    )
    parser.add_argument("--guide", type=Path, default=GUIDE_PATH, help=f"default: {GUIDE_PATH}")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the guide is out of date"
    )
    args = parser.parse_args(argv)
    guide: Path = args.guide
    examples, problems = collect()
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        sys.stderr.write("fix the payloads in libs/common/src/eci_common/examples.py\n")
        raise SystemExit(1)
    current = guide.read_text(encoding="utf-8")
    text = updated_guide(current, render_section(examples))
    if args.check:
        if text != current:
            sys.stderr.write(
                f"the examples in {guide} are out of date: run `uv run python -m "
                f"eci_common.examples --guide {guide}` and commit the result\n"
            )
            raise SystemExit(1)
        sys.stdout.write(f"the examples in {guide} are up to date\n")
        return
    guide.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote the examples into {guide}\n")


if __name__ == "__main__":
    main()
