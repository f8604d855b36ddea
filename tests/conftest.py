"""Session-wide fixtures: the real broker and database, and clean state per test."""

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from eci_common.mongo import MongoClient, create_mongo_client
from eci_common.settings import MongoSettings
from support.endpoints import Endpoints, resolve_endpoints
from support.services import new_run_id


def pytest_configure(config: pytest.Config) -> None:
    """Services run in production mode in tests, with a fresh token key per session that every
    in-process app and service process inherits; `support.auth` mints tokens with it."""
    os.environ.setdefault("AUTH_JWT_SECRET", secrets.token_urlsafe(48))
    os.environ.pop("ECI_ENV", None)
    # The tests' webhook receivers listen on 127.0.0.1 over http, which production refuses
    # (test_webhook_targets.py shows it refused when the host is not listed).
    os.environ.setdefault("NOTIFICATIONS_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    with resolve_endpoints() as found:
        yield found


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mongo(endpoints: Endpoints) -> AsyncIterator[MongoClient]:
    client = create_mongo_client(
        MongoSettings(mongodb_uri=endpoints.mongodb_uri, mongodb_database="unused")
    )
    yield client
    await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def run_id(mongo: MongoClient) -> AsyncIterator[str]:
    """A fresh id per test: databases, groups and topics are named after it. The test's
    databases are dropped afterwards: FerretDB slows down as databases accumulate."""
    value = new_run_id()
    yield value
    for name in await mongo.list_database_names():
        if name.startswith(f"t_{value}"):
            await mongo.drop_database(name)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
