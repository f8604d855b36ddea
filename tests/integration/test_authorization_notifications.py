"""Who may read which inbox, follow deliveries, see contacts, set preferences and manage
webhooks, for each role, allowed and denied, over the real broker and database."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from eci_common.auth import Role
from eci_common.events.registry import (
    ClusterCreatedV1,
    CompanyContactsChangedV1,
    CompanyRegisteredV1,
    ContactV1,
    MemberJoinedV1,
)
from eci_notifications.handlers import WEBHOOK_EVENT_TYPES
from support.auth import bearer, staff
from support.endpoints import Endpoints
from support.services import new_run_id

from .notifications_app import running_notifications

# The module's first test also waits for a new consumer group to read the shared topics.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]

NOW = datetime.now(UTC)


@dataclass
class Inboxes:
    client: httpx.AsyncClient  # no default credentials
    company_a: str
    company_b: str
    contact_a: str  # a contact of company A
    notification_a: str  # an inbox notification of company A

    def as_(self, who: str) -> dict[str, str]:
        return {
            "staff": staff(),
            "contact_a": bearer(Role.CONTACT, company=self.company_a),
            "contact_b": bearer(Role.CONTACT, company=self.company_b),
            "animator": bearer(Role.ANIMATOR, company="another", clusters=("any",)),
            "integrator": bearer(Role.INTEGRATOR),
            # An integrator's token naming a company does not make it one of the company's people.
            "integrator_a": bearer(Role.INTEGRATOR, company=self.company_a),
            "anonymous": {},
        }[who]

    async def status(self, method: str, path: str, who: str, **kwargs: object) -> int:
        response = await self.client.request(method, path, headers=self.as_(who), **kwargs)  # type: ignore[arg-type]
        return response.status_code


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def inboxes(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Inboxes]:
    run = new_run_id()
    cluster, company_a, company_b = f"cls-{run}", f"a-{run}", f"b-{run}"
    directory: Path = tmp_path_factory.mktemp("notifications-authorization")
    async with running_notifications(endpoints, directory) as app:
        await app.publish(
            ClusterCreatedV1(
                cluster_id=cluster,
                version=1,
                code=f"c{run}",
                name="Grappe Cadrans",
                theme="dials",
                created_at=NOW,
            ),
            *(
                CompanyRegisteredV1(
                    company_id=company,
                    version=1,
                    legal_name=f"Maison {company}",
                    country="FR",
                    registered_at=NOW,
                )
                for company in (company_a, company_b)
            ),
            *(
                CompanyContactsChangedV1(
                    company_id=company,
                    version=1,
                    changed_at=NOW,
                    contacts=[
                        ContactV1(
                            name=f"Personne {company}",
                            email=f"{company}@example.org",
                            language="fr",
                            consent=True,
                        )
                    ],
                )
                for company in (company_a, company_b)
            ),
        )
        # A new consumer group reads the shared topics from their start: allow for their history.
        [contact] = await app.contacts_of(company_a, 1, timeout=240)
        await app.contacts_of(company_b, 1, timeout=240)
        await app.publish(
            MemberJoinedV1(
                cluster_id=cluster, version=2, company_id=company_a, role="animator", joined_at=NOW
            ),
            MemberJoinedV1(
                cluster_id=cluster, version=3, company_id=company_b, role="member", joined_at=NOW
            ),
        )
        [notification] = await app.wait_inbox(company_a, "member_joined", timeout=240)
        transport = httpx.ASGITransport(app=app.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as bare:
            yield Inboxes(bare, company_a, company_b, contact["id"], notification["id"])


async def test_each_inbox_is_read_only_by_staff_and_its_own_company(inboxes: Inboxes) -> None:
    allowed = {
        "staff": {"staff", "contact_a"},  # recipient -> who may read
        inboxes.company_a: {"staff", "contact_a"},
        inboxes.contact_a: {"staff", "contact_a"},
    }
    for recipient, readers in allowed.items():
        for who in (
            "staff", "contact_a", "contact_b", "animator", "integrator", "integrator_a",
            "anonymous",
        ):  # fmt: skip
            expected = 401 if who == "anonymous" else 200 if who in readers else 403
            if recipient == "staff" and who == "contact_a":
                expected = 403
            for path in ("/notifications", "/notifications/unread-count"):
                status = await inboxes.status("GET", path, who, params={"recipient": recipient})
                assert status == expected, (path, recipient, who)


async def test_marking_read_someone_elses_notification_answers_404(inboxes: Inboxes) -> None:
    path = f"/notifications/{inboxes.notification_a}/read"
    assert await inboxes.status("POST", path, "contact_b") == 404
    assert await inboxes.status("POST", path, "animator") == 404
    assert await inboxes.status("POST", path, "integrator") == 403
    assert await inboxes.status("POST", path, "contact_a") == 200
    unread = await inboxes.client.get(
        "/notifications",
        params={"recipient": inboxes.company_a, "unread": True},
        headers=inboxes.as_("contact_a"),
    )
    assert inboxes.notification_a not in {n["id"] for n in unread.json()}


async def test_deliveries_are_followed_by_staff_only(inboxes: Inboxes) -> None:
    for who, expected in (
        ("staff", 200),
        ("contact_a", 403),
        ("animator", 403),
        ("integrator", 403),
        ("anonymous", 401),
    ):
        assert await inboxes.status("GET", "/deliveries", who) == expected, who
        one = f"/deliveries/{inboxes.notification_a}"
        assert await inboxes.status("GET", one, who) == expected, who


async def test_contacts_and_preferences_belong_to_their_company(inboxes: Inboxes) -> None:
    contacts = f"/companies/{inboxes.company_a}/contacts"
    preferences = f"/contacts/{inboxes.contact_a}/preferences"
    body = {"modes": {"clusters": {"email": "digest"}}}
    for who, listed, read, written in (
        ("staff", 200, 200, 200),
        ("contact_a", 200, 200, 200),
        ("contact_b", 403, 404, 404),
        ("animator", 403, 404, 404),
        ("integrator", 403, 404, 403),
        ("anonymous", 401, 401, 401),
    ):
        assert await inboxes.status("GET", contacts, who) == listed, who
        assert await inboxes.status("GET", preferences, who) == read, who
        assert await inboxes.status("PUT", preferences, who, json=body) == written, who
    assert await inboxes.status("GET", "/preferences/families", "integrator") == 200


async def test_webhook_subscriptions_are_managed_by_staff_only(inboxes: Inboxes) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "event_types": [WEBHOOK_EVENT_TYPES[0]]}
    for who, expected in (("contact_a", 403), ("integrator", 403), ("anonymous", 401)):
        assert await inboxes.status("POST", "/webhooks", who, json=body) == expected, who
        assert await inboxes.status("GET", "/webhooks", who) == expected, who
    assert await inboxes.status("GET", "/webhooks/event-types", "integrator") == 200
    created = await inboxes.client.post("/webhooks", json=body, headers=staff())
    assert created.status_code == 201, created.text
    one = f"/webhooks/{created.json()['id']}"
    for who in ("contact_a", "integrator"):
        assert await inboxes.status("GET", one, who) == 403, who
        assert await inboxes.status("DELETE", one, who) == 403, who
    assert await inboxes.status("DELETE", one, "staff") == 204
