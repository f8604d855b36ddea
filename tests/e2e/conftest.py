"""The three services as separate processes, on the shared broker and database."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio

from support.endpoints import Endpoints
from support.services import NAMES, ServiceProcess, make_service


@dataclass
class System:
    registry: ServiceProcess
    projects: ServiceProcess
    notifications: ServiceProcess

    @property
    def all(self) -> tuple[ServiceProcess, ...]:
        return (self.registry, self.projects, self.notifications)


async def start_system(endpoints: Endpoints, run_id: str, log_dir: Path) -> System:
    services = {name: make_service(name, endpoints, run_id, log_dir) for name in NAMES}
    for service in services.values():
        service.start()
    for service in services.values():
        await service.wait_ready()
    return System(**services)


def stop_system(system: System) -> None:
    for service in system.all:
        if service.process is not None:
            service.stop()


@pytest_asyncio.fixture
async def system(endpoints: Endpoints, run_id: str, log_dir: Path) -> AsyncIterator[System]:
    started = await start_system(endpoints, run_id, log_dir)
    try:
        yield started
    finally:
        stop_system(started)
