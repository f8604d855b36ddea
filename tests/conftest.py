"""Session-wide fixtures: the real broker and database, and clean state per test."""

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from eci_common.mongo import MongoClient, create_mongo_client
from eci_common.settings import MongoSettings
from eci_common.token_keys import generate_signing_key, write_jwks, write_signing_key
from support.endpoints import Endpoints, resolve_endpoints
from support.services import new_run_id

_KEYS_DIR = pytest.StashKey[Path]()


_TOKEN_VARIABLES = (
    "AUTH_SIGNING_KEY_FILE",
    "AUTH_JWKS_FILE",
    "AUTH_JWKS_URL",
    "AUTH_OIDC_ISSUER",
    "AUTH_OIDC_JWKS_URL",
    "AUTH_OIDC_AUDIENCE",
    "AUTH_REVOKED_JTI_FILE",
    "AUTH_MAX_TOKEN_LIFETIME_S",
)


def pytest_configure(config: pytest.Config) -> None:
    """Services run in production mode in tests, with one token key pair per session: the
    private key for `support.auth`, its public key in a JWKS that every in-process app and
    service process inherits (through the environment), and nothing else trusted."""
    for name in _TOKEN_VARIABLES:
        os.environ.pop(name, None)
    os.environ.pop("ECI_ENV", None)
    keys = Path(tempfile.mkdtemp(prefix="eci-test-token-keys-"))
    config.stash[_KEYS_DIR] = keys
    signing = generate_signing_key()
    write_signing_key(keys / "signing-key.pem", signing)
    write_jwks(keys / "jwks.json", {"keys": [signing.public_jwk]})
    os.environ["AUTH_SIGNING_KEY_FILE"] = str(keys / "signing-key.pem")
    os.environ["AUTH_JWKS_FILE"] = str(keys / "jwks.json")

    # The tests' webhook receivers listen on 127.0.0.1 over http, which production refuses
    # (test_webhook_targets.py shows it refused when the host is not listed).
    os.environ.setdefault("NOTIFICATIONS_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")


def pytest_unconfigure(config: pytest.Config) -> None:
    keys = config.stash.get(_KEYS_DIR, None)
    if keys is not None:
        shutil.rmtree(keys, ignore_errors=True)


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
