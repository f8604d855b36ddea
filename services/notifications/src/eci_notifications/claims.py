"""Claims: which replica sends one delivery attempt (or one digest), for how long.

Every replica reads the same pending deliveries; only the one that claims an attempt sends it.
A claim is an *insert* of the key `<subject>|<round>|<take>` (atomic on MongoDB and on FerretDB,
whose unique index is PostgreSQL's), never a conditional update (FerretDB v1 reads then
replaces). The round is the attempt number of a delivery (a retry claims a fresh key; nothing is
deleted first), and `take` counts take-overs: a claim whose lease ran out (its holder was
killed) is taken over by inserting the next `take`, so two replicas racing for a dead holder's
attempt cannot both win.

A claim only says who may send. A delivery's claims are kept (one small document per attempt,
no personal data): a first claim (take 0) of an attempt then proves that no replica made it
before, while a take-over reads the notification again. A digest's claims are deleted once the
digest is done, because the digest re-reads its items after every claim.
"""

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from eci_common import clock
from eci_common.mongo import Collection


@dataclass(frozen=True)
class Claim:
    """A claim this process holds; `fresh` until its lease is about to run out."""

    key: str
    subject: str
    round: int
    take: int
    deadline: float  # time.monotonic() after which the holder must not start a send

    def fresh(self) -> bool:
        return time.monotonic() < self.deadline


class Claims:
    """The claims of one kind of work (deliveries, digests) in one collection."""

    def __init__(self, collection: Collection, *, lease_s: float, owner: str | None = None) -> None:
        self._collection = collection
        self._lease_s = lease_s
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def ensure_indexes(self) -> None:
        await self._collection.create_index(
            [("subject", 1), ("round", 1), ("take", -1)], name="latest_take"
        )

    async def take(self, subject: str, round_: int) -> Claim | None:
        """The claim of `subject`'s `round`, or None while another replica holds it."""
        claim = await self._insert(subject, round_, 0)
        if claim is not None:
            return claim
        cursor = (
            self._collection.find({"subject": subject, "round": round_}).sort("take", -1).limit(1)
        )
        latest = await cursor.to_list()
        if not latest:
            return None  # done and cleaned up between the two reads: nothing to send
        if latest[0]["expires_at"] > clock.now():
            return None
        return await self._insert(subject, round_, latest[0]["take"] + 1)

    async def release(self, claim: Claim) -> None:
        """Gives an unsent claim back at once (a failed digest: the next pass may retry). Only
        while it is fresh: a claim past its lease may have been taken over, and deleting the
        key of take 0 then would let a third replica claim beside the taker."""
        if claim.fresh():
            await self._collection.delete_one({"_id": claim.key, "owner": self.owner})

    async def finish(self, subject: str) -> None:
        """The subject needs no more claims (only for work read again after each claim)."""
        await self._collection.delete_many({"subject": subject})

    async def _insert(self, subject: str, round_: int, take: int) -> Claim | None:
        key = f"{subject}|{round_}|{take}"
        started = time.monotonic()
        try:
            await self._collection.insert_one(
                {
                    "_id": key,
                    "subject": subject,
                    "round": round_,
                    "take": take,
                    "owner": self.owner,
                    "expires_at": clock.now() + timedelta(seconds=self._lease_s),
                }
            )
        except DuplicateKeyError:
            return None
        # Half the lease to start the send: the rest covers the send itself and its record.
        return Claim(key, subject, round_, take, started + self._lease_s / 2)
