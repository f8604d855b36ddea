"""`rebuild --swap` replaces projects' live read model while the service reads it: every read
made during the swap finds a whole model (the old one or the new one), never a missing one."""

import asyncio
from datetime import UTC, datetime

import pytest

from eci_common.mongo import Database, MongoClient
from eci_projects.live_model import LiveModel
from eci_projects.read_model import MongoCompanyDirectory
from eci_projects.rebuild import SUFFIX, swap

pytestmark = pytest.mark.integration

COMPANIES = 10


async def _fill(database: Database, suffix: str, name: str, version: int) -> None:
    directory = MongoCompanyDirectory(
        database[f"companies{suffix}"], database[f"memberships{suffix}"]
    )
    for index in range(COMPANIES):
        fields = {"legal_name": name, "country": "FR", "registered_at": datetime.now(UTC)}
        assert await directory.apply(f"c-{index}", version, fields)
    await directory.ensure_indexes()


async def _swap_while_reading(database: Database) -> list[tuple[str | None, int]]:
    """Swaps the rebuilt model in while a reader reads; returns what each read saw."""
    reader = MongoCompanyDirectory.live(LiveModel(database, cache_s=0.2))
    seen: list[tuple[str | None, int]] = []
    done = asyncio.Event()
    under_way = asyncio.Event()

    async def read() -> None:
        while not done.is_set():
            company = await reader.get("c-3")
            everyone = await reader.all(limit=100)
            seen.append((None if company is None else company.legal_name, len(everyone)))
            if len(seen) >= 3:
                under_way.set()

    reading = asyncio.create_task(read())
    try:
        await asyncio.wait_for(under_way.wait(), 30)  # reading before the swap begins
        await swap(database, cache_s=0.2)
        await asyncio.sleep(0.3)
    finally:
        done.set()
        await reading
    return seen


async def test_reads_during_a_swap_always_find_a_whole_model(
    mongo: MongoClient, run_id: str
) -> None:
    database = mongo[f"t_{run_id}_swap"]
    await _fill(database, "", "old", 1)
    await _fill(database, SUFFIX, "rebuilt", 2)

    seen = await _swap_while_reading(database)

    assert len(seen) > 10, seen
    assert all(count == COMPANIES for _, count in seen), seen
    names = [name for name, _ in seen]
    assert None not in names, names
    assert names[0] == "old"
    assert names[-1] == "rebuilt"
    assert names == sorted(names, key=lambda name: name != "old")  # old, then new, never back

    # A second rebuild replaces the first one the same way, and drops it.
    await _fill(database, SUFFIX, "rebuilt again", 3)
    seen = await _swap_while_reading(database)
    assert all(count == COMPANIES for _, count in seen), seen
    assert seen[-1][0] == "rebuilt again"
    generation = await LiveModel(database).generation()
    assert sorted(await database.list_collection_names()) == sorted(
        ["read_model", f"companies_{generation}", f"memberships_{generation}"]
    )
