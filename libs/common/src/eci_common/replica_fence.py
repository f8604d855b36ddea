"""One replica per service on FerretDB, as a mechanism rather than a sentence in the README.

FerretDB v1 runs every update as a read followed by a replace, so two replicas of one service
can lose each other's writes. On FerretDB a service process therefore holds a fence before it
starts: the fence is a document `<service>:<epoch>` in the service's own database, taken by an
*insert* (atomic: the unique `_id` is enforced by PostgreSQL's index). Taking over from a dead
holder inserts the next epoch, so it never needs the old document deleted first and two
successors racing for one epoch cannot both win.

The holder renews a heartbeat (a counter in its own epoch's document, written only by it) every
quarter of the lease. A newcomer reads the latest epoch and watches its counter with its own
monotonic clock (one clock, no comparison between hosts):

- the counter moves: a live holder; the newcomer refuses to start (`ReplicaRefused`);
- the holder released it (a clean stop): the newcomer takes the next epoch at once;
- the counter stays still for a whole lease: the holder is dead (kill -9, host lost); the
  newcomer takes the next epoch. A killed holder so blocks its successor for at most
  `replica_fence_lease_s` plus one heartbeat period.

A holder that finds a later epoch than its own (it was frozen past its lease and replaced) has
lost the fence and is told so (`on_lost`), so that it stops instead of running beside its
successor. On MongoDB (a real replica set, atomic updates) no fence is taken: replicas start as
usual.
"""

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from eci_common import clock
from eci_common.logging import get_logger
from eci_common.mongo import Collection, Database, Document

COLLECTION = "replica_fence"
# The heartbeat runs this many times per lease: a newcomer sees a live holder within a quarter
# of the lease, and a holder survives a few missed beats (a slow disk, a busy host).
BEATS_PER_LEASE = 4

log = get_logger(__name__)


class ReplicaRefused(RuntimeError):
    """Another live replica of this service holds the fence: this one must not start."""


async def is_ferretdb(database: Database) -> bool:
    """FerretDB answers `buildInfo` with a `ferretdbVersion` field (v1.24.2 does, next to a
    MongoDB-like `version` of 7.0.x); MongoDB never does."""
    info = await database.command("buildInfo")
    return "ferretdbVersion" in info


@dataclass(frozen=True)
class Holding:
    """The epoch this process holds."""

    epoch: int
    owner: str


class ReplicaFence:
    """Takes, renews and releases the fence of one service in its database."""

    def __init__(
        self,
        collection: Collection,
        *,
        service: str,
        lease_s: float,
        on_lost: Callable[[], None],
    ) -> None:
        self._collection = collection
        self._service = service
        self._lease_s = lease_s
        self._beat_s = lease_s / BEATS_PER_LEASE
        self._on_lost = on_lost
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._holding: Holding | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def holding(self) -> Holding | None:
        return self._holding

    async def acquire(self) -> Holding:
        """Takes the fence, waiting at most about one lease for a silent holder; raises
        `ReplicaRefused` while another replica's heartbeat is alive."""
        await self._collection.create_index([("service", 1), ("epoch", -1)], name="latest")
        while True:
            latest = await self._latest()
            if latest is None:
                epoch = 1
            elif latest.get("released"):
                epoch = latest["epoch"] + 1
            else:
                await self._wait_for_silence(latest)
                epoch = latest["epoch"] + 1
            if await self._insert(epoch):
                self._holding = Holding(epoch=epoch, owner=self._owner)
                await self._collection.delete_many(
                    {"service": self._service, "epoch": {"$lt": epoch}}
                )
                log.info("replica_fence_taken", service=self._service, epoch=epoch)
                self._task = asyncio.create_task(self._renew(), name="replica-fence")
                return self._holding
            # Another newcomer inserted that epoch first: judge it like any holder.

    async def release(self) -> None:
        """A clean stop: the successor may take the next epoch at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._holding is None:
            return
        await self._collection.update_one(
            {"_id": self._key(self._holding.epoch), "owner": self._owner},
            {"$set": {"released": True, "released_at": clock.now()}},
        )
        log.info("replica_fence_released", service=self._service, epoch=self._holding.epoch)
        self._holding = None

    async def _latest(self) -> Document | None:
        cursor = self._collection.find({"service": self._service}).sort("epoch", -1).limit(1)
        found = await cursor.to_list()
        return found[0] if found else None

    async def _wait_for_silence(self, held: Document) -> None:
        """Returns once the holder's heartbeat has stood still for a whole lease."""
        beat = held.get("beat")
        still_since = time.monotonic()
        log.info(
            "replica_fence_waiting",
            service=self._service,
            epoch=held["epoch"],
            holder=held.get("owner"),
            up_to_s=self._lease_s,
        )
        while time.monotonic() - still_since < self._lease_s:
            await asyncio.sleep(min(self._beat_s / 2, 1.0))
            now = await self._collection.find_one({"_id": held["_id"]})
            later = await self._latest()
            if later is not None and later["epoch"] != held["epoch"]:
                raise ReplicaRefused(self._refusal(later))
            if now is None:
                return  # pruned by a later holder, which the next read will judge
            if now.get("released"):
                return
            if now.get("beat") != beat:
                raise ReplicaRefused(self._refusal(now))

    def _refusal(self, held: Document) -> str:
        return (
            f"refusing to start: another replica of {self._service} ({held.get('owner')}) "
            "holds the replica fence of this FerretDB database. FerretDB v1 does not make "
            "updates atomic, so two replicas of one service would lose each other's writes. "
            "Run one replica per service on FerretDB: stop the other one first (one killed "
            f"with -9 is replaced after {self._lease_s:g} s), or use MongoDB to run several."
        )

    async def _insert(self, epoch: int) -> bool:
        try:
            await self._collection.insert_one(
                {
                    "_id": self._key(epoch),
                    "service": self._service,
                    "epoch": epoch,
                    "owner": self._owner,
                    "beat": 0,
                    "taken_at": clock.now(),
                    "renewed_at": clock.now(),
                    "released": False,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def _renew(self) -> None:
        """Beats until cancelled; a database outage only skips beats, a later epoch ends it."""
        assert self._holding is not None  # noqa: S101 - started after the fence is taken
        epoch = self._holding.epoch
        while True:
            await asyncio.sleep(self._beat_s)
            try:
                latest = await self._latest()
                if latest is not None and latest["epoch"] > epoch:
                    log.error(
                        "replica_fence_lost",
                        service=self._service,
                        epoch=epoch,
                        successor=latest.get("owner"),
                    )
                    self._holding = None
                    self._on_lost()
                    return
                await self._collection.update_one(
                    {"_id": self._key(epoch), "owner": self._owner},
                    {"$inc": {"beat": 1}, "$set": {"renewed_at": clock.now()}},
                )
            except Exception as exc:  # noqa: BLE001 - an outage must not kill the holder
                log.warning("replica_fence_renewal_failed", service=self._service, error=repr(exc))

    def _key(self, epoch: int) -> str:
        return f"{self._service}:{epoch:012d}"
