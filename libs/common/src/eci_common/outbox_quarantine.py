"""Outbox entries refused for good, kept aside in their document until an operator resends them.

When the broker refuses a record for good (too large, topic missing or not authorised) or an
entry cannot be turned into a record, the relay moves the entry from the document's `outbox` to
its `outbox_quarantine` list, with the reason and the time, counts it in
`eci_outbox_quarantined_total` and goes on with every other document and collection. A document
with a quarantined entry is not claimed again: the later events of that aggregate stay in its
outbox, held back, because publishing them would put them on the topic before the one that was
refused, and consumers' version guards would then drop the refused one when it finally came.

`eci-admin outbox` lists quarantined entries; `eci-admin outbox resend` inserts a request in the
service's `outbox_resend_requests` collection, which the service's relay carries out on its next
search: under the document's lock (the admin holds none, and FerretDB applies an update as a read
then a replace), it puts the entries back at the head of the outbox, in their order, and the
aggregate's events flow again, the resent one first.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from eci_common.locks import DocumentLocks
from eci_common.logging import get_logger
from eci_common.mongo import Collection, Database, Document

QUARANTINE = "outbox_quarantine"
RESEND_REQUESTS = "outbox_resend_requests"
OUTBOX = "outbox"

log = get_logger(__name__)


def quarantined(entry: Any, reason: str) -> Document:
    """The stored form of a refused entry: the entry untouched, why, and since when."""
    return {"entry": entry, "reason": reason, "at": datetime.now(UTC)}


def event_id_of(entry: Any) -> str | None:
    return str(entry.get("id")) if isinstance(entry, dict) and "id" in entry else None


async def list_quarantined(collection: Collection) -> list[tuple[Any, Document]]:
    """(document id, quarantined item) for every quarantined entry of the collection."""
    found: list[tuple[Any, Document]] = []
    async for document in collection.find({f"{QUARANTINE}.0": {"$exists": True}}):
        found.extend((document["_id"], item) for item in document[QUARANTINE])
    return found


async def request_resend(database: Database, event_id: str | None) -> str:
    """Asks the service's relay to resend one quarantined event (None: all of them)."""
    request_id = uuid.uuid4().hex
    await database[RESEND_REQUESTS].insert_one(
        {"_id": request_id, "event_id": event_id, "at": datetime.now(UTC)}
    )
    return request_id


async def resend_requested(collections: list[Collection], locks: DocumentLocks) -> int:
    """Carries out the pending resend requests on these collections (the relay's); returns how
    many entries went back to their outbox. A request is deleted once carried out."""
    if not collections:
        return 0
    requests = collections[0].database[RESEND_REQUESTS]
    moved = 0
    async for request in requests.find({}):
        for collection in collections:
            moved += await _resend(collection, locks, request.get("event_id"))
        await requests.delete_one({"_id": request["_id"]})
        log.info("outbox_resend_done", event_id=request.get("event_id"), moved=moved)
    return moved


async def _resend(collection: Collection, locks: DocumentLocks, event_id: str | None) -> int:
    # Which document holds the event is decided here, not by a query on a path into the list.
    query: Document = {f"{QUARANTINE}.0": {"$exists": True}}
    moved = 0
    for found in await collection.find(query, {"_id": 1, QUARANTINE: 1}).to_list():
        if event_id is not None and not any(
            event_id_of(item["entry"]) == event_id for item in found[QUARANTINE]
        ):
            continue
        async with locks.hold(collection.name, found["_id"]):
            document = await collection.find_one({"_id": found["_id"]})
            if document is None:
                continue
            items = document.get(QUARANTINE, [])
            back = [
                item for item in items if event_id is None or event_id_of(item["entry"]) == event_id
            ]
            kept = [item for item in items if item not in back]
            await collection.update_one(
                {"_id": found["_id"]},
                {
                    "$set": {
                        OUTBOX: [item["entry"] for item in back] + document.get(OUTBOX, []),
                        QUARANTINE: kept,
                    }
                },
            )
            moved += len(back)
    return moved
