"""Which collections hold projects' live read model.

A pointer document (`read_model` / `projects`) names the live generation; its collections are
`companies_<generation>` and `memberships_<generation>` (plain `companies` and `memberships`
while no rebuild has been swapped in). A rebuild swaps its model in with one single-document
write of the pointer, after its collections are complete and before the previous ones are
dropped, so a reader always finds a whole model: FerretDB v1.24 has no `renameCollection` with
`dropTarget` ("not implemented yet"), and a drop followed by a rename leaves a window with no
model at all. Readers cache the pointer for `cache_s`; the swap waits longer than that before
it drops the previous generation.
"""

import time

from eci_common.mongo import Collection, Database

POINTER_COLLECTION = "read_model"
POINTER_ID = "projects"
MODEL = ("companies", "memberships")


def collection_names(generation: str | None) -> tuple[str, str]:
    """The companies and memberships collections of a generation (None: the first one)."""
    suffix = "" if generation is None else f"_{generation}"
    companies, memberships = (f"{name}{suffix}" for name in MODEL)
    return companies, memberships


class LiveModel:
    """Resolves, and switches, the live generation of the read model."""

    def __init__(self, database: Database, *, cache_s: float = 1.0) -> None:
        self._database = database
        self._pointer = database[POINTER_COLLECTION]
        self._cache_s = cache_s
        self._cached: tuple[float, str | None] | None = None

    @property
    def cache_s(self) -> float:
        return self._cache_s

    async def generation(self, *, fresh: bool = False) -> str | None:
        """The live generation, read at most once per `cache_s` unless `fresh`."""
        now = time.monotonic()
        if not fresh and self._cached is not None and now - self._cached[0] < self._cache_s:
            return self._cached[1]
        found = await self._pointer.find_one({"_id": POINTER_ID})
        generation = None if found is None else str(found["generation"])
        self._cached = (now, generation)
        return generation

    async def collections(self) -> tuple[Collection, Collection]:
        companies, memberships = collection_names(await self.generation())
        return self._database[companies], self._database[memberships]

    async def switch_to(self, generation: str) -> None:
        """Makes `generation` live: one single-document write, atomic on every database."""
        await self._pointer.replace_one(
            {"_id": POINTER_ID}, {"generation": generation}, upsert=True
        )
        self._cached = None
