"""MongoDB access through PyMongo's native async API (`AsyncMongoClient`, the successor of Motor).

A client is bound to the event loop that uses it: create it inside the service's lifespan,
never at import time.
"""

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from eci_common.settings import MongoSettings

Document = dict[str, Any]
Collection = AsyncCollection[Document]
Database = AsyncDatabase[Document]
MongoClient = AsyncMongoClient[Document]

# Errors that mean "the database is unreachable for now", not "the request is wrong".
TRANSIENT_MONGO_ERRORS: tuple[type[Exception], ...] = (
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)


def create_mongo_client(settings: MongoSettings) -> MongoClient:
    """A client with bounded timeouts, timezone-aware datetimes and standard UUIDs."""
    return AsyncMongoClient(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        socketTimeoutMS=max(settings.mongodb_timeout_ms, 10_000),
        tz_aware=True,
        uuidRepresentation="standard",
        appname="eci",
    )


async def ping(database: Database) -> None:
    """Raises when the server does not answer."""
    await database.command("ping")


def is_duplicate_key(exc: OperationFailure) -> bool:
    """A unique index refused the write. FerretDB v1 reports it as error 11000 on insert but as
    an internal error naming the backend's constraint on update (SQLite: "UNIQUE constraint
    failed", PostgreSQL: SQLSTATE 23505); MongoDB says 11000 for both."""
    text = str(exc)
    return (
        isinstance(exc, DuplicateKeyError)
        or exc.code == 11000
        or "UNIQUE constraint failed" in text
        or "SQLSTATE 23505" in text
    )
