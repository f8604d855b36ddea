"""Measures whether the MongoDB-wire server isolates a filtered update from concurrent writers.

    uv run python bench/ferretdb_update_isolation.py [MONGODB_URI]

Two writers each do 200 read-then-guarded-increments (`update_one({_id, v: seen}, {$inc...})`
with `$set v = seen + 1`). On a server that applies a filtered update atomically, the number
of successful guarded updates equals the final value (ratio 1.00). FerretDB v1 applies an update
as a query followed by a whole-document replace, so both writers can pass the same guard.
The second part runs one guarded writer against a writer of an unrelated field.
"""

import asyncio
import sys

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

Doc = dict[str, object]


async def _guarded(col: AsyncCollection[Doc], rounds: int) -> int:
    ok = 0
    for _ in range(rounds):
        current = await col.find_one({"_id": "x"})
        assert current is not None
        seen = int(str(current["v"]))
        result = await col.update_one({"_id": "x", "v": seen}, {"$set": {"v": seen + 1}})
        ok += result.modified_count
    return ok


async def _unrelated(col: AsyncCollection[Doc], stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        await col.update_one({"_id": "x"}, {"$set": {"other": n}})
        n += 1


async def main(uri: str) -> None:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(uri)
    col = client["bench_isolation"]["counter"]
    try:
        await col.drop()
        await col.insert_one({"_id": "x", "v": 0})
        a, b = await asyncio.gather(_guarded(col, 200), _guarded(col, 200))
        final = (await col.find_one({"_id": "x"}) or {})["v"]
        print(
            f"two guarded writers: {a + b} successes, final value {final}, "
            f"ratio {int(str(final)) / (a + b):.2f} (1.00 when isolated)"
        )

        await col.drop()
        await col.insert_one({"_id": "x", "v": 0})
        stop = asyncio.Event()
        other = asyncio.create_task(_unrelated(col, stop))
        ok = await _guarded(col, 200)
        stop.set()
        await other
        final = (await col.find_one({"_id": "x"}) or {})["v"]
        print(
            f"guarded writer + unrelated writer: {ok} successes, final value {final}, "
            f"ratio {int(str(final)) / ok:.2f} (1.00 when isolated)"
        )
    finally:
        await client.drop_database("bench_isolation")
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "mongodb://127.0.0.1:27017/"))
