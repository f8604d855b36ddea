"""Delivery claims on the real database: one claimer per attempt among racing replicas, a take
over after a lease runs out, a fresh key per attempt, and a record whose version guard no
longer matches reported as not done."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from eci_common.mongo import Database, MongoClient
from eci_notifications.claims import Claims
from eci_notifications.domain import Channel, Notification, RecipientKind, Status
from eci_notifications.repository import MongoNotificationRepository
from support.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def db(mongo: MongoClient, run_id: str) -> Database:
    return mongo[f"t_{run_id}_claims"]


async def test_racing_replicas_claim_each_attempt_once(db: Database) -> None:
    replicas = [Claims(db["delivery_claims"], lease_s=30) for _ in range(3)]
    await replicas[0].ensure_indexes()
    subjects = [f"n{i}" for i in range(40)]
    taken = await asyncio.gather(*(r.take(s, 1) for s in subjects for r in replicas))
    winners = [claim for claim in taken if claim is not None]
    assert sorted(claim.subject for claim in winners) == sorted(subjects)


async def test_an_expired_claim_is_taken_over_once(db: Database) -> None:
    killed = Claims(db["delivery_claims"], lease_s=0.5)
    first = await killed.take("n", 1)
    assert first is not None
    others = [Claims(db["delivery_claims"], lease_s=30) for _ in range(2)]
    assert await others[0].take("n", 1) is None  # its holder's lease still runs

    async def expired() -> bool:
        stored = await db["delivery_claims"].find_one({"_id": first.key})
        return stored is not None and stored["expires_at"] < datetime.now(UTC)

    await eventually(expired, timeout=5, what="the killed holder's lease to run out")
    taken = await asyncio.gather(*(o.take("n", 1) for o in others))
    winners = [claim for claim in taken if claim is not None]
    assert [claim.take for claim in winners] == [1]


async def test_the_next_attempt_claims_a_fresh_key(db: Database) -> None:
    claims = Claims(db["delivery_claims"], lease_s=30)
    assert await claims.take("n", 1) is not None
    assert await claims.take("n", 1) is None
    assert await claims.take("n", 2) is not None  # a retry: nothing deleted first


async def test_a_record_that_lost_its_guard_is_not_done(db: Database) -> None:
    repository = MongoNotificationRepository(db["notifications"])
    pending = Notification(
        id="n1",
        recipient="c1",
        recipient_kind=RecipientKind.CONTACT,
        channel=Channel.EMAIL,
        kind="k",
        family="f",
        title="t",
        body="b",
        company_id=None,
        event_id="e1",
        correlation_id="c",
        created_at=datetime.now(UTC),
        status=Status.PENDING,
        address="a@example.com",
    )
    assert await repository.add(pending)
    sent = replace(pending, status=Status.SENT, attempts=1)
    assert await repository.record(sent, []) is not None
    assert await repository.record(sent, []) is None  # same base version: another came first
    stored = await repository.get("n1")
    assert stored is not None
    assert stored.version == pending.version + 1
