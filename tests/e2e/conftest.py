"""The three services as separate processes, on a broker of the journeys' own and the shared
database. A broker of their own keeps the topics short: each journey's fresh consumer groups read
only the other journeys' events, not the whole suite's."""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from support.endpoints import Endpoints
from support.private_kafka import PrivateKafka, can_run_private_broker
from support.services import NAMES, ServiceProcess, make_service

JOURNEYS_BROKER = "journeys' broker"


@dataclass
class System:
    registry: ServiceProcess
    projects: ServiceProcess
    notifications: ServiceProcess

    @property
    def all(self) -> tuple[ServiceProcess, ...]:
        return (self.registry, self.projects, self.notifications)


async def start_system(
    endpoints: Endpoints,
    run_id: str,
    log_dir: Path,
    overrides: dict[str, dict[str, str]] | None = None,
) -> System:
    """`overrides`: per service, settings without the service prefix (`{"notifications":
    {"SMTP_PORT": "2525"}}`)."""
    services = {
        name: make_service(name, endpoints, run_id, log_dir, **(overrides or {}).get(name, {}))
        for name in NAMES
    }
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            await service.wait_ready()
    except BaseException:
        # No process outlives a start that failed (a service still waiting for its
        # dependencies does not answer SIGTERM before its lifespan has started).
        for service in services.values():
            if service.process is not None:
                service.kill()
        raise
    return System(**services)


def stop_system(system: System) -> None:
    for service in system.all:
        if service.process is not None:
            service.stop()


@pytest.fixture(scope="session")
def journey_endpoints(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoints]:
    if not can_run_private_broker():  # a machine with only the shared endpoints: use them
        yield endpoints
        return
    broker = PrivateKafka.create(tmp_path_factory.mktemp("journeys-kafka"))
    broker.start()
    broker.declare_topics()
    try:
        yield Endpoints(broker.bootstrap, endpoints.mongodb_uri, JOURNEYS_BROKER)
    finally:
        broker.stop()


@pytest_asyncio.fixture
async def system(journey_endpoints: Endpoints, run_id: str, log_dir: Path) -> AsyncIterator[System]:
    started = await start_system(journey_endpoints, run_id, log_dir)
    try:
        yield started
    finally:
        stop_system(started)
