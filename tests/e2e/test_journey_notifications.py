"""Journeys 1 to 3 as people live them: companies join a grappe, one proposes a project and opens
a call, another applies and is accepted, a milestone is reached. Every notification ends in the
right inboxes and mailboxes, in each contact's language, and nowhere else."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from eci_common.topics import PUBLIC_TOPICS
from support.auth import staff
from support.polling import eventually
from support.smtp_sink import SmtpSink

from ..integration.test_example_integrator import load_example
from .conftest import start_system, stop_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _company(name: str, email: str, language: str) -> dict[str, Any]:
    return {
        "legal_name": name,
        "country": "CH",
        "region": "Jura",
        "roles": ["movement_maker"],
        "capabilities": ["movements.escapement"],
        "contacts": [
            {"name": f"Contact {name}", "email": email, "language": language, "consent": True}
        ],
    }


async def test_the_journey_reaches_the_right_people_only(
    journey_endpoints: Any, run_id: str, log_dir: Path, tmp_path: Path
) -> None:
    sink = SmtpSink(tmp_path / "mail")
    sink.start()
    overrides = {
        "notifications": {
            "SMTP_PORT": str(sink.port),
            "DELIVERY_POLL_INTERVAL_S": "0.2",
        }
    }
    system = await start_system(journey_endpoints, run_id, log_dir, overrides)
    registry, projects, notifications = (s.url for s in system.all)
    emails = {
        "lead": f"lead-{run_id}@pilote.example",
        "applicant": f"applicant-{run_id}@spiraux.example",
        "member": f"member-{run_id}@cadrans.example",
        "outsider": f"outsider-{run_id}@loin.example",
    }
    try:
        async with httpx.AsyncClient(timeout=10, headers=staff()) as client:
            cluster = (
                await client.post(
                    f"{registry}/clusters",
                    json={"code": f"g-{run_id}", "name": "Grappe Mouvements", "theme": "movements"},
                )
            ).json()
            ids: dict[str, str] = {}
            for role, language in (
                ("lead", "fr"),
                ("applicant", "en"),
                ("member", "fr"),
                ("outsider", "fr"),
            ):
                created = await client.post(
                    f"{registry}/companies",
                    json=_company(f"{role} {run_id}", emails[role], language),
                )
                assert created.status_code == 201, created.text
                ids[role] = created.json()["id"]
            # Contacts travel on their own topic: let notifications know them before anything
            # happens that they should hear of.
            for role, company_id in ids.items():

                async def contacts_known(company_id: str = company_id) -> bool:
                    found = await client.get(f"{notifications}/companies/{company_id}/contacts")
                    return found.status_code == 200 and bool(found.json())

                await eventually(contacts_known, timeout=120, what=f"{role}'s contacts")
            for role in ("lead", "applicant", "member"):  # the outsider stays outside
                joined = await client.put(
                    f"{registry}/clusters/{cluster['id']}/members/{ids[role]}", json={}
                )
                assert joined.status_code == 200

            async def known() -> bool:
                found = await client.get(f"{projects}/companies/{ids['member']}")
                return found.status_code == 200 and bool(found.json()["clusters"])

            await eventually(known, timeout=120, what="projects to know the grappe")
            project = (
                await client.post(
                    f"{projects}/projects",
                    json={
                        "cluster_id": cluster["id"],
                        "lead_company_id": ids["lead"],
                        "title": "Échappement commun",
                        "kind": "innovation",
                        "milestones": [{"title": "Prototype"}],
                    },
                )
            ).json()
            url = f"{projects}/projects/{project['id']}"
            await client.post(
                f"{url}/call",
                json={"needed_capabilities": ["movements.escapement"], "deadline": "2099-01-01"},
                headers={"If-Match": '"1"'},
            )
            application = await client.post(
                f"{url}/applications",
                json={"company_id": ids["applicant"], "message": "Volontiers"},
            )
            assert application.status_code == 201, application.text
            accepted = await client.post(
                f"{url}/applications/{application.json()['application_id']}/accept"
            )
            active = await client.post(
                f"{url}/status",
                json={"status": "active"},
                headers={"If-Match": f'"{accepted.json()["version"]}"'},
            )
            milestone = active.json()["milestones"][0]["id"]
            reached = await client.post(
                f"{url}/milestones/{milestone}/reached",
                headers={"If-Match": f'"{active.json()["version"]}"'},
            )
            assert reached.status_code == 200, reached.text

            async def kinds(role: str) -> set[str]:
                inbox = await client.get(
                    f"{notifications}/notifications", params={"recipient": ids[role]}
                )
                return {n["kind"] for n in inbox.json()}

            async def applicant_told_of_milestone() -> bool:
                return "milestone_reached" in await kinds("applicant")

            await eventually(applicant_told_of_milestone, timeout=120, what="the milestone notice")

            async def mailboxes_filled() -> bool:
                applicant = {str(m["Subject"]) for m in sink.to(emails["applicant"])}
                lead = {str(m["Subject"]) for m in sink.to(emails["lead"])}
                return (
                    "You are a partner of Échappement commun" in applicant
                    and "Nouvelle candidature pour Échappement commun" in lead
                )

            await eventually(mailboxes_filled, timeout=150, what="the e-mails")

            lead = await kinds("lead")
            applicant = await kinds("applicant")
            member = await kinds("member")
            assert {"application_submitted", "member_joined"} <= lead
            assert not lead & {"partner_accepted", "milestone_reached", "call_opened"}
            assert {"call_opened", "partner_accepted", "milestone_reached"} <= applicant
            assert "application_submitted" not in applicant
            assert "call_opened" in member
            assert not member & {"application_submitted", "partner_accepted", "milestone_reached"}
            assert await kinds("outsider") == set()
            assert sink.to(emails["outsider"]) == []

            # E-mails in the contact's language, each with a plain-text part.
            for message in sink.to(emails["applicant"]) + sink.to(emails["lead"]):
                assert message.get_body(preferencelist=("plain",)) is not None
            lead_subjects = [str(m["Subject"]) for m in sink.to(emails["lead"])]
            applicant_subjects = [str(m["Subject"]) for m in sink.to(emails["applicant"])]
            assert "You are a partner of Échappement commun" in applicant_subjects  # English
            assert "Nouvelle candidature pour Échappement commun" in lead_subjects  # French

        # An integrator with another client (confluent-kafka) reads every public topic after
        # the journey and finds every message valid against the committed contracts.
        seen: dict[str, set[str]] = {}

        def keep(outcome: Any) -> None:
            seen.setdefault(outcome.topic, set()).add(outcome.headers.get("ce_type", ""))

        summary = await asyncio.to_thread(
            load_example().consume,
            system.registry.env["KAFKA_BOOTSTRAP_SERVERS"],
            group_id=f"t-{run_id}-integrator",
            timeout_s=60.0,
            on_record=keep,
        )
        assert summary.invalid == [], summary.render()
        assert set(seen) == PUBLIC_TOPICS, summary.render()  # the journey wrote to each one
        journey_types = {
            "fr.horlogerie.eci.projects.project.proposed.v1",
            "fr.horlogerie.eci.projects.call.opened.v1",
            "fr.horlogerie.eci.projects.call.candidates-ranked.v1",
            "fr.horlogerie.eci.projects.application.submitted.v1",  # both during the window
            "fr.horlogerie.eci.projects.application.submitted.v2",
            "fr.horlogerie.eci.projects.partner.accepted.v1",
            "fr.horlogerie.eci.projects.milestone.reached.v1",
            "fr.horlogerie.eci.notifications.delivery.delivered.v1",
            "fr.horlogerie.eci.registry.cluster.member-joined.v1",
        }
        assert journey_types <= set().union(*seen.values()), summary.render()
    finally:
        stop_system(system)
        sink.stop()
