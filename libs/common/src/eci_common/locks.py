"""Per-document write serialisation inside one process.

FerretDB v1 applies an update as a query followed by a whole-document replace, with nothing
isolating the two (see its `internal/handler/msg_update.go`): two writers updating one document
at the same moment can both pass a version guard, and one can undo the other's change, an
outbox entry included. MongoDB applies a filtered update atomically, so this matters only on
FerretDB, but it costs little everywhere: every write that modifies an existing document of
ours takes that document's lock first. Across processes nothing protects FerretDB, which is why
a service runs as a single replica against it (see docs/operations.md).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class DocumentLocks:
    """One asyncio lock per (collection, id), created on demand and dropped when unused."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, Any], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, collection: str, document_id: Any) -> AsyncIterator[None]:
        key = (collection, document_id)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
