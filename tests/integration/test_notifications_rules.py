"""Each rule of notifications over the real broker, database and SMTP server: who hears, on
which channel, in which language; who does not; a duplicate has one effect; an erasure purges."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from eci_common.envelope import to_record
from eci_common.events.projects import (
    ApplicationSubmittedV1,
    ApplicationSubmittedV2,
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
)
from eci_common.events.registry import (
    ClusterCreatedV1,
    CompanyContactsChangedV1,
    CompanyErasedV1,
    CompanyRegisteredV1,
    ContactV1,
    MemberJoinedV1,
)
from eci_common.mongo import MongoClient
from support.endpoints import Endpoints
from support.kafka_io import produce
from support.polling import eventually
from support.services import new_run_id

from .notifications_app import NotificationsApp, running_notifications

# The first test also waits for the module's world to be built and its e-mails sent.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NOW = datetime.now(UTC)
RUN = new_run_id()
CLUSTER = f"cls-{RUN}"
PROJECT = f"prj-{RUN}"
# company: (name, [(contact name, e-mail, language, consent)])
COMPANIES: dict[str, tuple[str, list[tuple[str, str, str, bool]]]] = {
    "lead": ("Manufacture Pilote", [("Léa Pilote", "lea", "fr", True)]),
    "spiral": (
        "Spiraux du Jura",
        [("Bob Spiral", "bob", "en", True), ("Sans Accord", "noconsent", "fr", False)],
    ),
    "dials": ("Cadrans Dora", [("Dora Cadran", "dora", "fr", True)]),
    "outsider": ("Boîtiers Lointains", [("Eve Boîte", "eve", "fr", True)]),
    "newcomer": ("Nouvelle Maison", [("Noé Neuf", "noe", "fr", True)]),
}


def cid(key: str) -> str:
    return f"{key}-{RUN}"


def mail(local: str) -> str:
    return f"{local}.{RUN}@example.org"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[NotificationsApp]:
    directory: Path = tmp_path_factory.mktemp("notifications-rules")
    async with running_notifications(endpoints, directory) as app:
        payloads: list[Any] = [
            ClusterCreatedV1(
                cluster_id=CLUSTER,
                version=1,
                code=f"c{RUN}",
                name="Grappe Mouvements",
                theme="movements",
                created_at=NOW,
            ),
        ]
        for key, (name, contacts) in COMPANIES.items():
            payloads.append(
                CompanyRegisteredV1(
                    company_id=cid(key),
                    version=1,
                    legal_name=name,
                    country="FR",
                    registered_at=NOW,
                )
            )
            payloads.append(
                CompanyContactsChangedV1(
                    company_id=cid(key),
                    version=1,
                    changed_at=NOW,
                    contacts=[
                        ContactV1(name=n, email=mail(e), language=lang, consent=ok)
                        for n, e, lang, ok in contacts
                    ],
                )
            )
        for version, (key, role) in enumerate(
            [("lead", "animator"), ("spiral", "member"), ("dials", "member")], start=2
        ):
            payloads.append(
                MemberJoinedV1(
                    cluster_id=CLUSTER,
                    version=version,
                    company_id=cid(key),
                    role=role,
                    joined_at=NOW,
                )
            )
        await app.publish(*payloads)
        # Topics are read in no set order across one another: know every company's name before
        # the tests publish membership events that name them.
        for key in COMPANIES:

            async def named(key: str = key) -> bool:
                response = await app.client.get(
                    "/notifications", params={"recipient": "staff", "limit": 500}
                )
                return any(n["company_id"] == cid(key) for n in response.json())

            await eventually(named, timeout=120, what=f"{key} known by name")
        for key, (_, contacts) in COMPANIES.items():
            await app.contacts_of(cid(key), len(contacts))
        await app.wait_inbox(cid("lead"), "member_joined", count=2)  # spiral, then dials
        yield app


def about(notifications: list[dict[str, Any]], company: str) -> list[dict[str, Any]]:
    return [n for n in notifications if n["company_id"] == cid(company)]


async def contact_id(app: NotificationsApp, company: str, email_local: str) -> str:
    response = await app.client.get(f"/companies/{cid(company)}/contacts")
    contacts = {c["name"]: c["id"] for c in response.json()}
    names = {e: n for n, e, _, _ in COMPANIES[company][1]}
    return contacts[names[email_local]]


async def test_member_joined_reaches_the_other_members_and_the_animator(
    world: NotificationsApp,
) -> None:
    await world.publish(
        MemberJoinedV1(
            cluster_id=CLUSTER,
            version=5,
            company_id=cid("newcomer"),
            role="member",
            joined_at=NOW,
        )
    )
    for key in ("lead", "spiral", "dials"):

        async def told(key: str = key) -> bool:
            return bool(about(await world.inbox(cid(key)), "newcomer"))

        await eventually(told, timeout=60, what=f"{key} told of the newcomer")
    [note] = about(await world.inbox(cid("lead")), "newcomer")
    assert note["title"] == "Nouvelle Maison rejoint la grappe Grappe Mouvements"
    assert about(await world.inbox(cid("newcomer")), "newcomer") == []
    assert about(await world.inbox(cid("outsider")), "newcomer") == []

    # Contacts: each has an inbox; e-mail in their language, plain text always, HTML too.
    lea = await contact_id(world, "lead", "lea")
    assert about(await world.inbox(lea), "newcomer")

    async def mailed() -> bool:
        return all(
            any("Nouvelle Maison" in m["Subject"] for m in world.smtp.to(mail(person)))
            for person in ("bob", "dora")
        )

    # The delivery worker sends the module's whole backlog of e-mails first: on a loaded
    # two-core CI machine that takes tens of seconds.
    await eventually(mailed, timeout=90, what="e-mails to the members' contacts")
    [english] = [m for m in world.smtp.to(mail("bob")) if "Nouvelle Maison" in m["Subject"]]
    assert english["Subject"] == "Nouvelle Maison joined the Grappe Mouvements cluster"
    plain = english.get_body(("plain",))
    html = english.get_body(("html",))
    assert plain is not None
    assert "Hello Bob Spiral" in plain.get_content()
    assert html is not None
    assert "<strong>Nouvelle Maison</strong>" in html.get_content()
    [french] = [m for m in world.smtp.to(mail("dora")) if "Nouvelle Maison" in m["Subject"]]
    assert "Bonjour Dora Cadran" in french.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert world.smtp.to(mail("noe")) == [] or all(
        "Nouvelle Maison rejoint" not in m["Subject"] for m in world.smtp.to(mail("noe"))
    )

    # No consent, no e-mail: suppressed, with the reason.
    silent = await contact_id(world, "spiral", "noconsent")
    states = await world.deliveries(recipient=silent, channel="email")
    assert {(d["kind"], d["status"], d["reason"]) for d in states} >= {
        ("member_joined", "suppressed", "no_consent")
    }
    assert world.smtp.to(mail("noconsent")) == []


async def test_a_call_reaches_the_cluster_then_the_best_candidates_not_yet_told(
    world: NotificationsApp,
) -> None:
    await world.publish(
        ProjectProposedV1(
            project_id=PROJECT,
            version=1,
            cluster_id=CLUSTER,
            lead_company_id=cid("lead"),
            title="Spiral en silicium",
            summary="Un spiral commun.",
            kind="innovation",
            proposed_at=NOW,
        ),
        CallForPartnersOpenedV1(
            project_id=PROJECT,
            version=2,
            cluster_id=CLUSTER,
            lead_company_id=cid("lead"),
            title="Spiral en silicium",
            needed_capabilities=["movements.escapement"],
            deadline=date(2099, 12, 31),
            opened_at=NOW,
        ),
        CandidatesRankedV1(
            project_id=PROJECT,
            version=2,
            cluster_id=CLUSTER,
            needed_capabilities=["movements.escapement"],
            ranked_at=NOW,
            candidates=[
                Candidate(
                    company_id=cid(key),
                    rank=rank,
                    covered_capabilities=[],
                    same_cluster=False,
                    same_region=False,
                    reasons=[],
                )
                for rank, key in enumerate(["spiral", "outsider", "lead"], start=1)
            ],
        ),
    )
    await world.wait_inbox(cid("outsider"), "call_candidate")
    for key in ("spiral", "dials", "newcomer"):
        await world.wait_inbox(cid(key), "call_opened")
    calls = {"call_opened", "call_candidate"}
    spiral = [n for n in await world.inbox(cid("spiral")) if n["kind"] in calls]
    assert [n["kind"] for n in spiral] == ["call_opened"]  # ranked first, but told already
    assert [n for n in await world.inbox(cid("lead")) if n["kind"] in calls] == []
    [candidate] = [n for n in await world.inbox(cid("outsider")) if n["kind"] in calls]
    assert candidate["title"] == "Votre entreprise correspond à un appel : Spiral en silicium"


async def test_applications_decisions_invitations_and_milestones(world: NotificationsApp) -> None:
    project = f"{PROJECT}-2"
    base = {"project_id": project}
    await world.publish(
        ProjectProposedV1(
            **base,
            version=1,
            cluster_id=CLUSTER,
            lead_company_id=cid("lead"),
            title="Boîte commune",
            summary="",
            kind="pooling",
            proposed_at=NOW,
        ),
        # As the producer writes them during the migration window: v1 and v2 of one change.
        ApplicationSubmittedV1(
            **base,
            version=2,
            application_id="a1",
            company_id=cid("spiral"),
            lead_company_id=cid("lead"),
            submitted_at=NOW,
        ),
        ApplicationSubmittedV2(
            **base,
            version=2,
            application_id="a1",
            company_id=cid("spiral"),
            lead_company_id=cid("lead"),
            has_message=True,
            submitted_at=NOW,
        ),
        PartnerAcceptedV1(
            **base,
            version=3,
            company_id=cid("spiral"),
            via="application",
            reference_id="a1",
            accepted_at=NOW,
        ),
        PartnerDeclinedV1(
            **base, version=4, company_id=cid("dials"), application_id="a2", declined_at=NOW
        ),
        InvitationSentV1(
            **base, version=5, invitation_id="i1", company_id=cid("outsider"), sent_at=NOW
        ),
        InvitationSentV2(
            **base, version=5, invitation_id="i1", company_id=cid("outsider"), sent_at=NOW
        ),
        InvitationAcceptedV1(
            **base, version=6, invitation_id="i1", company_id=cid("outsider"), accepted_at=NOW
        ),
        InvitationDeclinedV1(
            **base, version=7, invitation_id="i2", company_id=cid("newcomer"), declined_at=NOW
        ),
        MilestoneReachedV1(
            **base,
            version=8,
            milestone_id="m1",
            title="Prototype",
            lead_company_id=cid("lead"),
            partner_company_ids=[cid("spiral"), cid("outsider")],
            reached_at=NOW,
        ),
    )
    expected = {
        "lead": {"application_submitted", "invitation_accepted", "invitation_declined"},
        "spiral": {"partner_accepted", "milestone_reached"},
        "dials": {"partner_declined"},
        "outsider": {"invitation_sent", "milestone_reached"},
        "newcomer": set(),
    }
    await world.wait_inbox(cid("outsider"), "milestone_reached")
    await world.wait_inbox(cid("lead"), "invitation_declined")
    kinds = set().union(*expected.values())
    for key, wanted in expected.items():
        mine = [n for n in await world.inbox(cid(key)) if n["kind"] in kinds]
        mine = [n for n in mine if "Boîte commune" in n["title"] + n["body"]]
        assert {n["kind"] for n in mine} == wanted, key
        assert len(mine) == len(wanted), key
    [application] = [
        n for n in await world.inbox(cid("lead")) if n["kind"] == "application_submitted"
    ]
    assert "Spiraux du Jura se porte candidate" in application["body"]
    # The text itself is not on the topic (v2): the notification points to the project.
    assert "Un message vous attend" in application["body"]


async def test_the_same_event_twice_notifies_once_per_recipient_and_channel(
    world: NotificationsApp,
) -> None:
    [event] = await world.publish(
        MilestoneReachedV1(
            project_id=f"{PROJECT}-dup",
            version=1,
            milestone_id="m",
            title="Dup",
            lead_company_id=cid("lead"),
            partner_company_ids=[cid("dials")],
            reached_at=NOW,
        )
    )
    record = to_record(event)
    await produce(world.endpoints.kafka_bootstrap, [record, record])
    dora = await contact_id(world, "dials", "dora")

    async def settled() -> list[dict[str, Any]] | None:
        found = [
            d for d in await world.deliveries(recipient=dora) if d["event_id"] == event.meta.id
        ]
        return found if {d["channel"] for d in found} == {"inbox", "email"} else None

    await eventually(settled, timeout=60, what="the milestone's notifications")
    await eventually(
        lambda: _processed_thrice(world, event.meta.id), timeout=30, what="three deliveries read"
    )
    states = [d for d in await world.deliveries(recipient=dora) if d["event_id"] == event.meta.id]
    assert sorted(d["channel"] for d in states) == ["email", "inbox"]
    company = [n for n in await world.inbox(cid("dials")) if n["title"].startswith("Jalon")]
    assert len([n for n in company if "Dup" in n["title"]]) == 1


async def _processed_thrice(world: NotificationsApp, event_id: str) -> bool:
    # Three copies were produced; the consumer records each event id once, and skips the rest.
    runtime = world.app.state.runtime
    found = await runtime.db["processed_events"].count_documents({"_id": {"$regex": event_id}})
    return bool(found == 1)


async def test_erasure_purges_everything_about_the_company(
    world: NotificationsApp, mongo: MongoClient
) -> None:
    await world.wait_inbox(cid("lead"), "member_joined", count=2)
    await world.publish(CompanyErasedV1(company_id=cid("dials"), version=9, erased_at=NOW))

    async def purged() -> bool:
        response = await world.client.get(f"/companies/{cid('dials')}/contacts")
        return response.json() == [] and await world.inbox(cid("dials")) == []

    await eventually(purged, timeout=60, what="the erasure to be honoured")
    assert about(await world.inbox(cid("lead")), "dials") == []
    database = mongo[world.settings.mongodb_database]
    for name in await database.list_collection_names():
        async for document in database[name].find({}):
            text = json.dumps(document, default=str)
            for secret in ("Cadrans Dora", "Dora Cadran", mail("dora")):
                assert secret not in text, (name, document["_id"])
