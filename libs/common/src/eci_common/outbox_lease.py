"""Leases of the outbox relay that compare no clocks across hosts.

A lease is a token in the document: the owner (one id per relay) and a beat counter. The owner
renews it during a round by bumping the beat; another relay judges it expired only after it has
seen the same token, unchanged, for `outbox_lease_s` by its own monotonic clock. No wall-clock
time is written or compared, so neither a host's clock that is off nor one that jumps can make a
lease end early.

Why no two relays publish one document: the owner hands a record to the producer only while its last
successful renewal (timed before the write was sent) is younger than `lease_s - delivery_bound`,
and aiokafka settles every record within `delivery_bound` of its `send` when the broker is down
or has no leader (its metadata wait, then its queue's expiry, each `request_timeout_ms`). So
every record the owner queued is settled before anyone can have watched an unchanged token for
`lease_s`, even if every renewal after the record failed. `eci_common.settings.check_lease`
refuses, at start-up, a configuration where that window is too small.

One case is outside any lease: an idempotent aiokafka retries a record already sent to a leader
until it is taken, without limit; while it does, renewals keep the lease as long as the database
answers this relay. Should the database stay unreachable from
this relay alone for longer than the lease, a second relay may publish the document too: a
duplicate (consumers deduplicate), never an inversion, since the late record is the older one.
A renewal that finds a document no longer leased by this relay ends the round's sending.

The token is compared and replaced by a conditional update, atomic per document on MongoDB. On
FerretDB v1 an update is a read then a replace, so two processes could both take one expired
lease: there the service runs as one replica, and the relays and writers of one process hold
the document's lock around every write (`eci_common.locks`).
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from eci_common.logging import get_logger

LEASE_OWNER = "outbox_lease_owner"
LEASE_BEAT = "outbox_lease_beat"
# Written by relays before leases had beats; a lease with it and no beat is watched like any other.
LEGACY_LEASE_UNTIL = "outbox_lease_until"
Token = tuple[Any, Any]

log = get_logger(__name__)


def token_of(document: dict[str, Any]) -> Token:
    return (document.get(LEASE_OWNER), document.get(LEASE_BEAT))


def token_filter(token: Token) -> dict[str, Any]:
    """The documents whose lease is still exactly this token (None matches a missing field)."""
    owner, beat = token
    return {LEASE_OWNER: owner, LEASE_BEAT: beat}


class LeaseWatch:
    """Other relays' leases as this relay saw them: a token unchanged for `lease_s` on this
    relay's monotonic clock is expired."""

    def __init__(self, lease_s: float) -> None:
        self._lease_s = lease_s
        self._seen: dict[Any, tuple[Token, float]] = {}

    def expired(self, seen: dict[Any, Token]) -> list[Any]:
        """Records what a search saw (key -> token) and returns the keys whose token has not
        changed for a lease. Keys not seen this time are forgotten."""
        now = time.monotonic()
        previous, self._seen = self._seen, {}
        expired = []
        for key, token in seen.items():
            before = previous.get(key)
            first = before[1] if before is not None and before[0] == token else now
            self._seen[key] = (token, first)
            if now - first >= self._lease_s:
                expired.append(key)
        return expired


class Renewal:
    """The leases of one round: renewed every third of the window (lease minus delivery bound)
    while the round runs, and whether the round may still hand records to the producer.
    `renew` returns whether every lease of the round was still this relay's."""

    def __init__(
        self,
        renew: Callable[[], Awaitable[bool]],
        *,
        lease_s: float,
        delivery_bound: float,
        claimed_at: float,
    ) -> None:
        self._renew = renew
        self._window = lease_s - delivery_bound
        self._every = self._window / 3
        self._beat_at = claimed_at
        self._lost = False

    def may_send(self) -> bool:
        """Whether a record queued now is settled before another relay can take the lease (and
        no renewal found a lease gone)."""
        return not self._lost and time.monotonic() - self._beat_at < self._window

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            started = time.monotonic()  # before the write: the lease runs at least from here
            try:
                held = await self._renew()
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                log.warning("outbox_lease_renewal_failed", error=repr(exc))
                continue
            if not held:
                self._lost = True
                return
            self._beat_at = started

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["Renewal"]:
        task = asyncio.create_task(self._loop(), name="outbox-lease-renewal")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
