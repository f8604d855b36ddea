"""A job that a process runs in the background every so often, until it stops: the delivery
worker and the digest (notifications), the health observations, the pruning of the idempotency
record, the segment-roll markers. One implementation of the loop, so that each of them starts,
rings and stops alike, and none dies of one failed round."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from eci_common.logging import get_logger

log = get_logger(__name__)


class PeriodicJob:
    """Runs `job` every `interval_s` in a task of its own; `wake` runs it at once. A round that
    fails is logged (its error's type: the text may hold what logs must not) and the next round
    runs as planned. With `first_after_interval`, the first round waits one interval."""

    def __init__(
        self,
        name: str,
        job: Callable[[], Awaitable[object]],
        interval_s: float,
        *,
        first_after_interval: bool = False,
    ) -> None:
        self.name = name
        self._job = job
        self._interval_s = interval_s
        self._first_after_interval = first_after_interval
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        if self._first_after_interval:
            await self._pause()
        while True:
            try:
                await self._job()
            except Exception as exc:  # noqa: BLE001 - the job must outlive any outage
                log.warning("job_failed", job=self.name, error_type=type(exc).__name__)
            await self._pause()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._interval_s)
        self._wakeup.clear()
