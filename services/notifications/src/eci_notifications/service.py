"""Notification use cases: an event, through its rule, becomes notifications; an erasure purges.

Keyword-only, dependencies passed in, idempotent: every notification has a deterministic id, so
a redelivered event inserts nothing new.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eci_common.envelope import Event
from eci_common.events.base import EventPayload
from eci_common.logging import get_logger
from eci_notifications.contacts import ContactBook
from eci_notifications.directory import Directory
from eci_notifications.domain import (
    STAFF,
    Channel,
    Notification,
    RecipientKind,
    Status,
    decide,
    notification_id,
)
from eci_notifications.repository import NotificationRepository
from eci_notifications.rules import Audience, Dedup, Rule, rule_for
from eci_notifications.subscriptions import SubscriptionRepository
from eci_notifications.templates import DEFAULT_LANGUAGE, Renderer

log = get_logger(__name__)


@dataclass(frozen=True)
class Notifier:
    """What the notify use case needs."""

    notifications: NotificationRepository
    contacts: ContactBook
    directory: Directory
    subscriptions: SubscriptionRepository
    renderer: Renderer
    candidates_top_n: int
    wake_delivery: Callable[[], None]


async def handle_event(*, notifier: Notifier, event: Event[Any]) -> int:
    """Applies the event's rule, then calls the integrators' webhooks; how many were stored.

    Events from different topics arrive in no particular order: an event about a company whose
    erasure was already honoured (its tombstone is there) must not bring its data back.
    """
    subject = getattr(event.data, "company_id", None)
    if isinstance(subject, str) and await notifier.directory.erased({subject}):
        log.info("erased_company_not_notified", company_id=subject)
        return 0
    stored = due = 0
    rule = rule_for(event.meta.type)
    if rule is not None:
        stored, due = await notify(notifier=notifier, event=event, rule=rule)
    calls = await call_webhooks(notifier=notifier, event=event)
    # Only a pending e-mail or webhook call needs the delivery worker; waking it for inbox-only
    # notifications would make it look for due work (a scan on FerretDB) after every event.
    if due or calls:
        notifier.wake_delivery()
    return stored + calls


async def notify(*, notifier: Notifier, event: Event[Any], rule: Rule) -> tuple[int, int]:
    """One inbox notification per company of the audience, and for each of its contacts one per
    channel (inbox, e-mail), each delivered, pending or suppressed as consent and choices say.
    Returns how many were stored, and how many of those wait for the delivery worker."""
    data = event.data
    context = await _context(notifier, data)
    audience = await _audience(notifier, rule, data)
    gone = await notifier.directory.erased(set(audience) - {STAFF})
    audience = [company for company in audience if company not in gone]
    key_source, key_id = _dedup_key(rule, event)
    about = tuple(sorted(companies_named(data)))
    common: dict[str, Any] = {
        "kind": rule.kind,
        "family": rule.family,
        "company_id": getattr(data, "company_id", None),
        "event_id": event.meta.id,
        "event_type": event.meta.type,
        "event_source": event.meta.source,
        "correlation_id": event.meta.correlationid,
        "created_at": event.meta.time,
        "about": about,
    }

    def build(
        recipient: str,
        recipient_kind: RecipientKind,
        channel: Channel,
        language: str,
        name: str,
        **state: Any,
    ) -> Notification:
        words = notifier.renderer.render(rule.kind, language, {**context, "recipient": name})
        return Notification(
            id=notification_id(
                event_source=key_source, event_id=key_id, recipient=recipient, channel=channel
            ),
            recipient=recipient,
            recipient_kind=recipient_kind,
            channel=channel,
            title=words.subject,
            body=words.text,
            html=words.html,
            **common,
            **state,
        )

    built: list[Notification] = []
    for company_id in audience:
        if company_id == STAFF:
            built.append(build(STAFF, RecipientKind.STAFF, Channel.INBOX, DEFAULT_LANGUAGE, ""))
            continue
        name = await notifier.directory.company_name(company_id) or ""
        built.append(
            build(
                company_id,
                RecipientKind.COMPANY,
                Channel.INBOX,
                DEFAULT_LANGUAGE,
                name,
                recipient_company_id=company_id,
            )
        )
        for contact in await notifier.contacts.of_company(company_id):
            preferences = await notifier.contacts.preferences(contact)
            for channel in (Channel.INBOX, Channel.EMAIL):
                decision = decide(contact, preferences, rule.family, channel)
                due = event.meta.time if decision.status is Status.PENDING else None
                built.append(
                    build(
                        contact.id,
                        RecipientKind.CONTACT,
                        channel,
                        contact.language,
                        contact.name,
                        recipient_company_id=company_id,
                        address=contact.email if channel is Channel.EMAIL else None,
                        status=decision.status,
                        reason=decision.reason,
                        digest=decision.digest,
                        next_attempt_at=due,
                    )
                )
    stored = pending = 0
    for notification in built:
        added = await notifier.notifications.add(notification)
        stored += added
        if added and notification.next_attempt_at is not None:
            pending += 1
    log.info("notified", kind=rule.kind, recipients=len(audience), stored=stored)
    return stored, pending


async def call_webhooks(*, notifier: Notifier, event: Event[Any]) -> int:
    """One pending webhook call per active subscription to the event's type."""
    subscriptions = await notifier.subscriptions.for_event_type(event.meta.type)
    if not subscriptions:
        return 0
    body = structured_cloudevent(event)
    stored = 0
    for subscription in subscriptions:
        stored += await notifier.notifications.add(
            Notification(
                id=notification_id(
                    event_source=event.meta.source,
                    event_id=event.meta.id,
                    recipient=subscription.id,
                    channel=Channel.WEBHOOK,
                ),
                recipient=subscription.id,
                recipient_kind=RecipientKind.SUBSCRIPTION,
                channel=Channel.WEBHOOK,
                kind="webhook",
                family="webhooks",
                title=event.meta.type,
                body="",
                company_id=getattr(event.data, "company_id", None),
                event_id=event.meta.id,
                event_type=event.meta.type,
                event_source=event.meta.source,
                correlation_id=event.meta.correlationid,
                created_at=event.meta.time,
                about=tuple(sorted(companies_named(event.data))),
                address=subscription.url,
                payload=body,
                status=Status.PENDING,
                next_attempt_at=event.meta.time,
            )
        )
    return stored


async def purge_company(
    *,
    notifications: NotificationRepository,
    contacts: ContactBook,
    directory: Directory,
    company_id: str,
    version: int,
) -> int:
    """GDPR: notifications (and their deliveries), contacts, preferences, name, memberships."""
    purged = await notifications.purge_company(company_id)
    await contacts.forget_company(company_id, version)
    await directory.forget_company(company_id, version)
    return purged


def structured_cloudevent(event: Event[Any]) -> str:
    """The event in CloudEvents structured JSON mode: what a webhook receiver gets."""
    attributes = event.meta.model_dump(mode="json", exclude_none=True)
    return json.dumps({**attributes, "data": event.data.model_dump(mode="json")})


def companies_named(data: EventPayload) -> set[str]:
    """Every company id a payload names: an erasure of any of them removes what it caused."""
    named: set[str] = set()
    for field in ("company_id", "lead_company_id"):
        value = getattr(data, field, None)
        if isinstance(value, str):
            named.add(value)
    named.update(getattr(data, "partner_company_ids", None) or [])
    named.update(candidate.company_id for candidate in getattr(data, "candidates", None) or [])
    return named


def _dedup_key(rule: Rule, event: Event[Any]) -> tuple[str, str]:
    if rule.dedup is Dedup.CALL:
        return "call", str(event.data.project_id)
    return event.meta.source, event.meta.id


async def _audience(notifier: Notifier, rule: Rule, data: Any) -> list[str]:  # noqa: PLR0911 - one per audience
    directory = notifier.directory
    match rule.audience:
        case Audience.STAFF:
            return [STAFF]
        case Audience.CLUSTER_MEMBERS:
            members = await directory.members(data.cluster_id)
            return sorted(company for company in members if company != data.company_id)
        case Audience.CLUSTER_COMPANIES:
            members = await directory.members(data.cluster_id)
            return sorted(company for company in members if company != data.lead_company_id)
        case Audience.TOP_CANDIDATES:
            project = await directory.project(data.project_id)
            lead = project.lead_company_id if project else None
            ranked = sorted(data.candidates, key=lambda candidate: candidate.rank)
            chosen = [c.company_id for c in ranked if c.company_id != lead]
            return chosen[: notifier.candidates_top_n]
        case Audience.LEAD:
            lead = getattr(data, "lead_company_id", None)
            if lead is None:
                project = await directory.project(data.project_id)
                lead = project.lead_company_id if project else None
            return [lead] if lead else []
        case Audience.SUBJECT_COMPANY:
            return [data.company_id]
        case Audience.PARTNERS:
            return sorted(set(data.partner_company_ids))


async def _context(notifier: Notifier, data: Any) -> dict[str, Any]:
    """What the templates may name; absent names fall back to neutral words."""
    directory = notifier.directory
    project = None
    if hasattr(data, "project_id"):
        project = await directory.project(data.project_id)
    cluster_id = getattr(data, "cluster_id", None) or (project.cluster_id if project else None)
    lead_id = getattr(data, "lead_company_id", None) or (
        project.lead_company_id if project else None
    )
    company_id = getattr(data, "company_id", None)
    company = getattr(data, "legal_name", None)
    if company is None and company_id is not None:
        company = await directory.company_name(company_id)
    where = ", ".join(
        part
        for part in (getattr(data, name, None) for name in ("city", "region", "country"))
        if part
    )
    return {
        "event": data,
        "company": company or "Une entreprise",
        "cluster": (await directory.cluster_name(cluster_id) if cluster_id else None) or "",
        "project": getattr(data, "title", None) if project is None else project.title,
        "lead": (await directory.company_name(lead_id) if lead_id else None) or "Le porteur",
        "where": where,
    }
