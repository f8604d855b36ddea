"""A read-model write that loses a race with another writer reads again, so the newer event
wins and an older one never overwrites it (projects' `_guarded_upsert`, notifications'
`apply_versioned`). The race is made deterministic: another write lands between the writer's
read and its own write. Applications are counted (the writers' True answers)."""

from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, MongoClient
from eci_notifications.directory import apply_versioned
from eci_projects.read_model import _guarded_upsert

pytestmark = pytest.mark.integration

Apply = Callable[[Collection, str, int, dict[str, Any]], Awaitable[bool]]


async def _projects(collection: Collection, key: str, version: int, fields: dict[str, Any]) -> bool:
    return await _guarded_upsert(collection, key, version, fields, [])


async def _notifications(
    collection: Collection, key: str, version: int, fields: dict[str, Any]
) -> bool:
    return await apply_versioned(collection, DocumentLocks(), key, version, fields)


class _Interleaved:
    """A collection whose first insert or update lets another writer write first."""

    def __init__(self, real: Collection, other: Callable[[], Awaitable[bool]]) -> None:
        self._real = real
        self._other: Callable[[], Awaitable[bool]] | None = other
        self.other_applied: bool | None = None

    async def _interfere(self) -> None:
        if self._other is not None:
            other, self._other = self._other, None
            self.other_applied = await other()

    async def insert_one(self, *args: Any, **kwargs: Any) -> Any:
        await self._interfere()
        return await self._real.insert_one(*args, **kwargs)

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        await self._interfere()
        return await self._real.update_one(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture(params=[_projects, _notifications], ids=["projects", "notifications"])
def apply(request: pytest.FixtureRequest) -> Apply:
    return cast(Apply, request.param)


async def _race(
    apply: Apply, collection: Collection, *, stored: int | None, other: int, mine: int
) -> tuple[bool, bool | None, dict[str, Any]]:
    if stored is not None:
        assert await apply(collection, "k", stored, {"by": stored})
    interleaved = _Interleaved(collection, lambda: apply(collection, "k", other, {"by": other}))
    applied = await apply(cast(Collection, interleaved), "k", mine, {"by": mine})
    document = await collection.find_one({"_id": "k"})
    assert document is not None
    return applied, interleaved.other_applied, document


async def test_an_update_that_loses_the_race_to_an_older_event_still_applies(
    apply: Apply, mongo: MongoClient, run_id: str
) -> None:
    collection = mongo[f"t_{run_id}_races"]["companies"]
    applied, other_applied, document = await _race(apply, collection, stored=1, other=2, mine=3)
    assert (other_applied, applied) == (True, True)  # both applied, in order
    assert (document["version"], document["by"]) == (3, 3)


async def test_an_insert_that_loses_the_race_to_an_older_event_still_applies(
    apply: Apply, mongo: MongoClient, run_id: str
) -> None:
    collection = mongo[f"t_{run_id}_races"]["companies"]
    applied, other_applied, document = await _race(apply, collection, stored=None, other=1, mine=2)
    assert (other_applied, applied) == (True, True)
    assert (document["version"], document["by"]) == (2, 2)


async def test_an_older_event_that_loses_the_race_to_a_newer_one_is_not_applied(
    apply: Apply, mongo: MongoClient, run_id: str
) -> None:
    collection = mongo[f"t_{run_id}_races"]["companies"]
    applied, other_applied, document = await _race(apply, collection, stored=1, other=3, mine=2)
    assert (other_applied, applied) == (True, False)
    assert (document["version"], document["by"]) == (3, 3)
