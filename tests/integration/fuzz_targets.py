"""The three services as `test_api_fuzzing.py` fuzzes them: each app over the test's own
database and consumer group, seeded with a few real resources whose ids the fuzzer then draws.

What a service learns from events (projects' companies, notifications' contacts and inboxes) is
written straight into its database before it starts; the rest goes through its API, as staff.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import schemathesis
from fastapi import FastAPI

from eci_common.locks import DocumentLocks
from eci_common.mongo import Database
from eci_notifications import main as notifications_main
from eci_notifications.contacts import MongoContactBook, new_contact
from eci_notifications.domain import STAFF, Channel, Notification, RecipientKind, Status
from eci_notifications.repository import MongoNotificationRepository
from eci_notifications.settings import Settings as NotificationsSettings
from eci_projects import main as projects_main
from eci_projects.read_model import MongoCompanyDirectory
from eci_projects.settings import Settings as ProjectsSettings
from eci_registry import main as registry_main
from eci_registry.settings import Settings as RegistrySettings
from support.auth import staff
from support.endpoints import Endpoints

from .conftest import known_company

SERVICES = ("registry", "projects", "notifications")
CLUSTER = "cluster-1"  # the cluster of projects' read model


@dataclass(frozen=True)
class Seeded:
    """Existing values per parameter name (in a path, a query or a body), and the company
    whose contact the fuzzer plays."""

    ids: dict[str, list[str]]
    contact_company: str


def create_app(service: str, endpoints: Endpoints, run_id: str) -> FastAPI:
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": endpoints.kafka_bootstrap,
        "mongodb_uri": endpoints.mongodb_uri,
        "mongodb_database": f"t_{run_id}_{service}",
        "consumer_group": f"t-{run_id}-{service}",
        "http_port": 0,
        "outbox_poll_interval_s": 0.2,
    }
    if service == "registry":
        return registry_main.create_app(RegistrySettings(**common))
    if service == "projects":
        return projects_main.create_app(ProjectsSettings(**common))
    # Nothing seeded is pending and no route sends mail: port 9 (discard) is never reached.
    return notifications_main.create_app(NotificationsSettings(**common, smtp_port=9))


async def preseed(service: str, database: Database) -> None:
    """What the service would have learnt from events, before it starts."""
    steps: dict[str, Callable[[Database], Awaitable[None]]] = {
        "projects": _preseed_projects,
        "notifications": _preseed_notifications,
    }
    if service in steps:
        await steps[service](database)


def seed(service: str, schema: schemathesis.BaseSchema) -> Seeded:
    """Resources created through the running app's API."""
    return {
        "registry": _seed_registry,
        "projects": _seed_projects,
        "notifications": _seed_notifications,
    }[service](schema)


def _call(
    schema: schemathesis.BaseSchema,
    method: str,
    path: str,
    *,
    version: int | None = None,
    expect: int = 200,
    **parts: Any,
) -> Any:
    headers = staff() | ({"If-Match": f'"{version}"'} if version is not None else {})
    response = schema[path][method].Case(headers=headers, **parts).call()
    assert response.status_code == expect, f"{method} {path}: {response.text}"
    return response.json()


def _seed_registry(schema: schemathesis.BaseSchema) -> Seeded:
    """Two clusters; four companies: three members, one of them deactivated, one erased."""
    clusters = [
        _call(
            schema,
            "POST",
            "/clusters",
            body={"code": code, "name": code.title(), "theme": theme},
            expect=201,
        )["id"]
        for code, theme in (("cadrans", "dials"), ("boitiers", "cases"))
    ]
    companies = [
        _call(
            schema,
            "POST",
            "/companies",
            body={
                "legal_name": name,
                "roles": ["dial_maker"],
                "capabilities": ["dials"],
                "contacts": [{"name": "Ana", "email": f"ana@{name.lower()}.example"}],
            },
            expect=201,
        )["id"]
        for name in ("Cadrans", "Boites", "Aiguilles", "Bracelets")
    ]
    for company in companies[:3]:
        _call(
            schema,
            "PUT",
            "/clusters/{cluster_id}/members/{company_id}",
            path_parameters={"cluster_id": clusters[0], "company_id": company},
            body={"role": "member"},
        )
    deactivate = {"company_id": companies[2]}
    _call(
        schema,
        "POST",
        "/companies/{company_id}/deactivate",
        path_parameters=deactivate,
        body={},
        version=1,
    )
    erase = {"company_id": companies[3]}
    _call(schema, "POST", "/companies/{company_id}/erase", path_parameters=erase)
    return Seeded(
        {"company_id": companies, "cluster_id": clusters, "cluster": clusters}, companies[0]
    )


async def _preseed_projects(database: Database) -> None:
    directory = MongoCompanyDirectory(database["companies"], database["memberships"])
    for company_id, status, member in (
        ("lead", "active", True),
        ("partner", "active", True),
        ("outsider", "active", False),
        ("paused", "deactivated", True),
    ):
        await known_company(
            directory, company_id, status=status, cluster=CLUSTER if member else None
        )


def _seed_projects(schema: schemathesis.BaseSchema) -> Seeded:
    """A draft, and a project open for partners with an application and an invitation."""

    def propose(title: str) -> dict[str, Any]:
        body = {
            "cluster_id": CLUSTER,
            "lead_company_id": "lead",
            "title": title,
            "kind": "pooling",
            "milestones": [{"title": "Prototype", "due_on": "2099-06-30"}],
        }
        project: dict[str, Any] = _call(schema, "POST", "/projects", body=body, expect=201)
        return project

    draft, opened = propose("Brouillon"), propose("Ligne partagée")
    at = {"project_id": opened["id"]}
    call = {"needed_capabilities": ["assembly"], "deadline": "2099-01-31"}
    _call(schema, "POST", "/projects/{project_id}/call", path_parameters=at, body=call, version=1)
    application = _call(
        schema,
        "POST",
        "/projects/{project_id}/applications",
        path_parameters=at,
        body={"company_id": "partner"},
        expect=201,
    )["application_id"]
    invitation = _call(
        schema,
        "POST",
        "/projects/{project_id}/invitations",
        path_parameters=at,
        body={"company_id": "partner"},
        expect=201,
    )["invitation_id"]
    ids = {
        "project_id": [draft["id"], opened["id"]],
        "application_id": [application],
        "invitation_id": [invitation],
        "milestone_id": [m["id"] for m in draft["milestones"] + opened["milestones"]],
        "company_id": ["lead", "partner", "outsider", "paused"],
        "lead_company_id": ["lead", "outsider"],
        "cluster_id": [CLUSTER],
    }
    return Seeded(ids, "lead")


def _contact(company: str) -> str:
    """The id notifications gives the one contact seeded for this company."""
    return new_contact(
        company, name="Ana", email=f"ana@{company}.example", language="fr", consent=True, role=None
    ).id


async def _preseed_notifications(database: Database) -> None:
    """A contact per company, and notifications in three inboxes and on the e-mail channel."""
    locks = DocumentLocks()
    book = MongoContactBook(database["contacts"], database["preferences"], locks)
    for company in ("company-a", "company-b"):
        contact = new_contact(
            company,
            name="Ana",
            email=f"ana@{company}.example",
            language="fr",
            consent=True,
            role=None,
        )
        await book.replace(company, 1, [contact])
    notifications = MongoNotificationRepository(database["notifications"], locks)
    for index, (recipient, kind, channel) in enumerate(
        (
            (STAFF, RecipientKind.STAFF, Channel.INBOX),
            ("company-a", RecipientKind.COMPANY, Channel.INBOX),
            ("company-b", RecipientKind.COMPANY, Channel.INBOX),
            (_contact("company-a"), RecipientKind.CONTACT, Channel.EMAIL),
        )
    ):
        await notifications.add(
            Notification(
                id=f"seeded-{index}",
                recipient=recipient,
                recipient_kind=kind,
                channel=channel,
                kind="member_joined",
                family="clusters",
                title="Nouveau membre",
                body="Un membre a rejoint la grappe.",
                company_id="company-a",
                event_id=str(uuid.uuid4()),
                correlation_id="seeded",
                created_at=datetime(2024, 5, 30, tzinfo=UTC),
                recipient_company_id=None if kind is RecipientKind.STAFF else "company-a",
                status=Status.SENT if channel is Channel.INBOX else Status.FAILED,
            )
        )


def _seed_notifications(schema: schemathesis.BaseSchema) -> Seeded:
    """A webhook subscription (to the discard port)."""
    event_types = _call(schema, "GET", "/webhooks/event-types")
    subscription = _call(
        schema,
        "POST",
        "/webhooks",
        body={"url": "http://127.0.0.1:9/hook", "event_types": event_types[:2]},
        expect=201,
    )["id"]
    contacts = [_contact("company-a"), _contact("company-b")]
    ids = {
        "company_id": ["company-a", "company-b"],
        "contact_id": contacts,
        "notification_id": [f"seeded-{index}" for index in range(4)],
        "subscription_id": [subscription],
        "recipient": [STAFF, "company-a", *contacts],
    }
    return Seeded(ids, "company-a")
