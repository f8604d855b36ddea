"""The outbox relay's writes to aggregates: claims, lease renewals, takeovers, releases and
quarantines, each conditional on the lease and each under the document's lock.

A small round claims and releases its documents with one command per document, by `_id`, run
concurrently: FerretDB hands an equality on `_id` to its storage but evaluates `$in` and
`$exists` itself on every document, so such a round costs in proportion to its documents, not to
the collection. A round of `BULK_FROM` documents or more uses one conditional `update_many` to
claim (then one read of what it got) and one to release, each reading the collection once.

Every write holds the document's lock (`eci_common.locks`): FerretDB applies an update as a read
then a whole-document replace, so an unlocked relay write racing a service write could drop the
service's change or a new outbox entry.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from pymongo import ReturnDocument

from eci_common.locks import DocumentLocks
from eci_common.logging import get_logger
from eci_common.mongo import Collection, Document
from eci_common.outbox_lease import LEASE_BEAT, LEASE_OWNER, LEGACY_LEASE_UNTIL, Token, token_filter
from eci_common.outbox_quarantine import OUTBOX, QUARANTINE, quarantined

# Claims and releases of one round in flight at once.
CONCURRENT_WRITES = 16
# From this many documents a round claims and releases them with one `update_many` each: on
# FerretDB a filter on `$in` reads the whole collection once, which beats that many commands by
# `_id` for a large round and loses to them for a small one (bench/README.md, section 2).
BULK_FROM = 16
# A bulk release pulls the acknowledged entries of many documents in one update; past this many
# bytes of entries it is split, so that no command nears MongoDB's 16 MiB limit.
RELEASE_MAX_BYTES = 4 * 1024 * 1024
# Dropped when a relay releases a document (the beat stays, so that a later claim is a new token).
RELEASED: Document = {LEASE_OWNER: "", LEGACY_LEASE_UNTIL: ""}

log = get_logger(__name__)


class RelayWrites:
    """The writes of one relay (its owner id in every lease), under its process's locks."""

    def __init__(self, owner: str, locks: DocumentLocks) -> None:
        self._owner = owner
        self._locks = locks
        self._concurrent = asyncio.Semaphore(CONCURRENT_WRITES)

    @staticmethod
    def pending() -> Document:
        # Pending events, and none quarantined ahead of them (held back until resent).
        return {f"{OUTBOX}.0": {"$exists": True}, f"{QUARANTINE}.0": {"$exists": False}}

    def claimable(self) -> Document:
        # Pending, and no lease or one of ours that a failed round left behind (rounds of one
        # relay never overlap). Other relays' leases: `take_over`.
        return {
            **self.pending(),
            "$or": [{LEASE_OWNER: None}, {LEASE_OWNER: self._owner}],
        }

    def lease(self) -> Document:
        # A new token: this owner, the next beat.
        return {
            "$set": {LEASE_OWNER: self._owner},
            "$inc": {LEASE_BEAT: 1},
            "$unset": {LEGACY_LEASE_UNTIL: ""},
        }

    async def take_over(
        self, collection: Collection, expired: Sequence[tuple[Any, Token]]
    ) -> list[Document]:
        """Claims each document whose lease is still the expired token seen."""

        async def take(item: tuple[Any, Token]) -> Document | None:
            doc_id, token = item
            found: Document | None = await collection.find_one_and_update(
                {"_id": doc_id, **self.pending(), **token_filter(token)},
                self.lease(),
                return_document=ReturnDocument.AFTER,
            )
            if found is not None:
                log.warning("outbox_lease_taken_over", collection=collection.name)
            return found

        tokens = dict(expired)
        claimed = await self.each(
            collection, list(tokens), lambda doc_id: take((doc_id, tokens[doc_id]))
        )
        return [doc for doc in claimed if doc is not None]

    async def claim_ids(self, collection: Collection, ids: Sequence[Any]) -> list[Document]:
        """Claims each of these documents that has pending events and no live lease, and returns
        the claimed ones in the order given, as they are under the lease (events appended since
        the search are in it)."""
        if not ids:
            return []
        claimable = self.claimable()
        lease = self.lease()
        if len(ids) >= BULK_FROM:
            # One conditional update, which MongoDB applies atomically per document: of two
            # relays, one gets each. Then one read of what the lease now covers.
            async with self.hold(collection, ids):
                await collection.update_many({"_id": {"$in": list(ids)}, **claimable}, lease)
            mine = await collection.find(
                {"_id": {"$in": list(ids)}, LEASE_OWNER: self._owner}
            ).to_list()
            position = {doc_id: index for index, doc_id in enumerate(ids)}
            return sorted(mine, key=lambda doc: position[doc["_id"]])

        async def claim(doc_id: Any) -> Document | None:
            # Conditional and atomic per document on MongoDB: of two relays, one gets it.
            found: Document | None = await collection.find_one_and_update(
                {"_id": doc_id, **claimable}, lease, return_document=ReturnDocument.AFTER
            )
            return found

        claimed = await self.each(collection, ids, claim)
        return [doc for doc in claimed if doc is not None]

    async def renew(self, collection: Collection, ids: Sequence[Any]) -> bool:
        """A new beat on each of these documents this relay still leases; whether it still
        leased them all."""
        beat: Document = {"$inc": {LEASE_BEAT: 1}}
        if len(ids) >= BULK_FROM:
            async with self.hold(collection, ids):
                result = await collection.update_many(
                    {"_id": {"$in": list(ids)}, LEASE_OWNER: self._owner}, beat
                )
            renewed = result.matched_count
        else:

            async def renew(doc_id: Any) -> int:
                done = await collection.update_one({"_id": doc_id, LEASE_OWNER: self._owner}, beat)
                return done.matched_count

            renewed = sum(await self.each(collection, ids, renew))
        if renewed < len(ids):
            log.error("outbox_lease_lost", collection=collection.name, lost=len(ids) - renewed)
            return False
        return True

    async def release(
        self,
        collection: Collection,
        sent: Sequence[tuple[Any, list[Document]]],
        set_aside: dict[Any, tuple[Any, str]] | None = None,
    ) -> None:
        """Pulls the acknowledged entries of each document, moves a refused one to its
        quarantine, and drops its lease, one update per document. Only documents still leased by
        this relay are touched: a lease that expired and passed to another relay is that
        relay's to drop."""
        set_aside = set_aside or {}
        if set_aside:
            await self._quarantine(collection, dict(sent), set_aside)
            sent = [(doc_id, entries) for doc_id, entries in sent if doc_id not in set_aside]
        if len(sent) >= BULK_FROM:
            await self._release_bulk(collection, sent)
            return
        pulled = dict(sent)

        async def release(doc_id: Any) -> None:
            # $pullAll of the exact entries read: FerretDB v1 ignores a $pull by condition.
            # Events appended meanwhile are different entries and stay.
            update: Document = {"$unset": RELEASED}
            if pulled[doc_id]:
                update["$pullAll"] = {OUTBOX: pulled[doc_id]}
            await collection.update_one({"_id": doc_id, LEASE_OWNER: self._owner}, update)

        await self.each(collection, list(pulled), release)

    async def _quarantine(
        self,
        collection: Collection,
        pulled: dict[Any, list[Document]],
        set_aside: dict[Any, tuple[Any, str]],
    ) -> None:
        """For each document with a refused entry: its acknowledged entries and the refused one
        out of the outbox, the refused one into the quarantine, the lease dropped."""

        async def quarantine(doc_id: Any) -> None:
            entry, reason = set_aside[doc_id]
            await collection.update_one(
                {"_id": doc_id, LEASE_OWNER: self._owner},
                {
                    "$unset": RELEASED,
                    "$pullAll": {OUTBOX: [*pulled.get(doc_id, []), entry]},
                    "$push": {QUARANTINE: quarantined(entry, reason)},
                },
            )

        await self.each(collection, list(set_aside), quarantine)

    async def _release_bulk(
        self, collection: Collection, sent: Sequence[tuple[Any, list[Document]]]
    ) -> None:
        """As `_release`, in as few updates as the size of the entries allows."""
        for chunk in _chunks(sent, RELEASE_MAX_BYTES):
            ids = [doc_id for doc_id, _ in chunk]
            # Each entry (with its event id) is in one document only, so one list pulls every
            # document's own entries.
            pulled = [entry for _, entries in chunk for entry in entries]
            update: Document = {"$unset": RELEASED}
            if pulled:
                update["$pullAll"] = {OUTBOX: pulled}
            async with self.hold(collection, ids):
                await collection.update_many(
                    {"_id": {"$in": ids}, LEASE_OWNER: self._owner}, update
                )

    @contextlib.asynccontextmanager
    async def hold(self, collection: Collection, ids: Sequence[Any]) -> AsyncIterator[None]:
        """The locks of several documents, taken in one global order: two relays of a process
        never wait on each other in a cycle, and a service writer holds one lock at a time."""
        async with contextlib.AsyncExitStack() as stack:
            for doc_id in sorted(ids, key=repr):
                await stack.enter_async_context(self._locks.hold(collection.name, doc_id))
            yield

    async def each(
        self,
        collection: Collection,
        ids: Sequence[Any],
        write: Callable[[Any], Awaitable[Any]],
    ) -> list[Any]:
        """`write(id)` for every id, concurrently up to CONCURRENT_WRITES, each under its
        document's lock (one lock at a time per task: no cycle with the service writers); the
        results in the order of `ids`. Every write is awaited, whatever fails; then the first
        failure is raised."""

        async def locked(doc_id: Any) -> Any:
            async with self._concurrent, self._locks.hold(collection.name, doc_id):
                return await write(doc_id)

        results = await asyncio.gather(*(locked(doc_id) for doc_id in ids), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results


def _chunks(
    sent: Sequence[tuple[Any, list[Document]]], max_bytes: int
) -> Iterable[Sequence[tuple[Any, list[Document]]]]:
    """Consecutive runs of documents whose entries weigh at most `max_bytes` together (a run
    has at least one document, however large)."""
    start, weight = 0, 0
    for index, (_, entries) in enumerate(sent):
        size = sum(len(entry["body"]) + len(str(entry["headers"])) for entry in entries)
        if size and index > start and weight + size > max_bytes:
            yield sent[start:index]
            start, weight = index, 0
        weight += size
    if start < len(sent):
        yield sent[start:]
