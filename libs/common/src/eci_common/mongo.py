"""MongoDB access through PyMongo's native async API (`AsyncMongoClient`, the successor of Motor).

A client is bound to the event loop that uses it: create it inside the service's lifespan,
never at import time.
"""

import re
from collections.abc import Mapping
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from eci_common.settings import MongoSettings

Document = dict[str, Any]
Collection = AsyncCollection[Document]
Database = AsyncDatabase[Document]
MongoClient = AsyncMongoClient[Document]

# Errors that mean "the database is unreachable for now", whatever the request: the driver's
# network and server-selection failures (`AutoReconnect`, `NetworkTimeout`, `NotPrimaryError`,
# `ServerSelectionTimeoutError`, `WaitQueueTimeoutError` are all `ConnectionFailure`s).
TRANSIENT_MONGO_ERRORS: tuple[type[Exception], ...] = (ConnectionFailure,)

# Server error codes that say "not now" rather than "not this": MongoDB's own list of
# retryable and interrupted operations (shutdown, elections, a primary stepping down, network
# errors between members, a time limit exceeded, resources briefly exhausted).
TRANSIENT_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        50,  # MaxTimeMSExpired
        64,  # WriteConcernFailed (a write concern timeout)
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        133,  # FailedToSatisfyReadPreference
        134,  # ReadConcernMajorityNotAvailableYet
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)
# Labels the server or the driver puts on an error that a retry may cure.
TRANSIENT_LABELS = ("RetryableWriteError", "TransientTransactionError", "ResetPool")
_FERRETDB_INTERNAL_ERROR = 1
# FerretDB v1 reports every failure of its PostgreSQL backend as `InternalError` (code 1, no
# label) with PostgreSQL's or the Go driver's message. Measured with PostgreSQL stopped under a
# running FerretDB v1.24.2: "failed to connect to `user=... database=...`: ... dial error: ...
# connect: connection refused" (no connection), "FATAL: terminating connection due to
# administrator command (SQLSTATE 57P01)" (connections cut by the shutdown), "read: connection
# reset by peer". SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57P
# (operator intervention: shutdown, crash, starting up) and 40001/40P01 (serialization,
# deadlock) are "not now"; every other SQLSTATE (23505 duplicate key, 22P05 a NUL character)
# is about the request and stays permanent.
_TRANSIENT_SQLSTATE = re.compile(r"SQLSTATE (08\w{3}|53\w{3}|57P\w{2}|40001|40P01)\b")
_TRANSIENT_BACKEND_TEXT = (
    "failed to connect to",
    "dial error",
    "connection refused",
    "connection reset by peer",
    "broken pipe",
    "conn closed",
    "unexpected EOF",
    "i/o timeout",
)


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says that some layer of the database (driver, network, server, FerretDB's
    PostgreSQL) cannot serve any request for now: retry it, never dead-letter for it."""
    if isinstance(exc, TRANSIENT_MONGO_ERRORS):
        return True
    if not isinstance(exc, PyMongoError):
        return False
    if any(exc.has_error_label(label) for label in TRANSIENT_LABELS):
        return True
    if isinstance(exc, BulkWriteError):
        # Some writes of the batch failed: transient only if every failure is.
        details = exc.details
        failures = [*details.get("writeErrors", []), *details.get("writeConcernErrors", [])]
        return bool(failures) and all(_transient_reply(failure) for failure in failures)
    if isinstance(exc, OperationFailure):
        return _transient_reply({"code": exc.code, "errmsg": str(exc)})
    return False


def _transient_reply(reply: Mapping[str, Any]) -> bool:
    code = reply.get("code")
    if code in TRANSIENT_CODES:
        return True
    if code != _FERRETDB_INTERNAL_ERROR:
        return False
    text = str(reply.get("errmsg", ""))
    return bool(_TRANSIENT_SQLSTATE.search(text)) or any(
        marker in text for marker in _TRANSIENT_BACKEND_TEXT
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
