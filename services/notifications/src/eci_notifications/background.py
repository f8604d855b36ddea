"""The process's periodic jobs (delivery worker, daily digest), each a task with a doorbell."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from eci_common.logging import get_logger

log = get_logger(__name__)


class Loop:
    """Runs one periodic job in the background, with a doorbell, until stopped."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self._name = name
        self._job = job
        self._interval_s = interval_s
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._job()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any outage
                log.warning("job_failed", job=self._name, error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval_s)
            self._wakeup.clear()
