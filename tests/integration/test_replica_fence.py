"""The replica fence on the real database: one holder per service, a live holder refuses a
newcomer, a silent one is replaced after its lease, a released one at once, and two newcomers
racing for a dead holder's epoch cannot both win."""

import asyncio
import time

import pytest

from eci_common.mongo import Collection, MongoClient
from eci_common.replica_fence import ReplicaFence, ReplicaRefused, is_ferretdb
from support.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

LEASE_S = 1.0


def _fence(collection: Collection, lost: list[str] | None = None) -> ReplicaFence:
    return ReplicaFence(
        collection,
        service="svc",
        lease_s=LEASE_S,
        on_lost=lambda: (lost if lost is not None else []).append("lost"),
    )


@pytest.fixture
def fences(mongo: MongoClient, run_id: str) -> Collection:
    return mongo[f"t_{run_id}_fence"]["replica_fence"]


async def test_the_shared_database_is_detected_as_ferretdb(mongo: MongoClient) -> None:
    # The fence is taken only there: what v1.24.2 answers decides it.
    assert await is_ferretdb(mongo["admin"])


async def test_a_live_holder_refuses_a_newcomer_within_a_heartbeat(fences: Collection) -> None:
    holder = _fence(fences)
    await holder.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(ReplicaRefused, match="one replica per service on FerretDB"):
            await _fence(fences).acquire()
        assert time.monotonic() - started < LEASE_S  # seen beating, not waited out
    finally:
        await holder.release()


async def test_a_silent_holder_is_replaced_after_its_lease(fences: Collection) -> None:
    lost: list[str] = []
    dead = _fence(fences, lost)
    first = await dead.acquire()
    _stop_beating(dead)  # what kill -9 leaves behind: a fence nobody renews
    started = time.monotonic()
    successor = _fence(fences)
    second = await successor.acquire()
    waited = time.monotonic() - started
    try:
        assert second.epoch == first.epoch + 1
        assert LEASE_S <= waited < LEASE_S * 2
    finally:
        await successor.release()


async def test_a_released_fence_is_taken_at_once(fences: Collection) -> None:
    first = _fence(fences)
    await first.acquire()
    await first.release()
    started = time.monotonic()
    second = _fence(fences)
    await second.acquire()
    try:
        assert time.monotonic() - started < LEASE_S / 2
    finally:
        await second.release()


async def test_two_newcomers_racing_for_a_dead_holders_epoch_one_wins(
    fences: Collection,
) -> None:
    dead = _fence(fences)
    await dead.acquire()
    _stop_beating(dead)
    racers = [_fence(fences), _fence(fences)]
    outcomes = await asyncio.gather(*(r.acquire() for r in racers), return_exceptions=True)
    try:
        won = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, ReplicaRefused)]
        assert len(won) == 1, outcomes
        assert len(refused) == 1, outcomes
    finally:
        for racer in racers:
            await racer.release()


async def test_a_holder_replaced_while_frozen_is_told_it_lost(fences: Collection) -> None:
    lost: list[str] = []
    frozen = _fence(fences, lost)
    holding = await frozen.acquire()
    task = frozen._task  # freeze the beat; resumed below
    assert task is not None
    task.cancel()
    successor = _fence(fences)
    await successor.acquire()
    try:
        frozen._task = asyncio.create_task(frozen._renew())  # thawed
        frozen._holding = holding

        async def told() -> bool:
            return lost == ["lost"]

        await eventually(told, timeout=LEASE_S * 2, what="the frozen holder to learn it lost")
    finally:
        await successor.release()


def _stop_beating(fence: ReplicaFence) -> None:
    task = fence._task  # the test plays the killed process
    assert task is not None
    task.cancel()
