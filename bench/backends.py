"""FerretDB's two storage backends, SQLite and PostgreSQL, side by side in one run.

    uv run python bench/backends.py [--single N] [--bulk N] [--lookups N] [--sizes 1000,10000]
                                    [--budget S]

Starts two private FerretDBs (`infra/ferretdb.sh` on free ports, state in temporary folders):
one with `FERRETDB_BACKEND=sqlite`, one with `FERRETDB_BACKEND=postgresql` whose PostgreSQL
server is the script's own (`infra/postgres.sh` on a free port, in a temporary folder), so the
clone's server is neither needed nor touched. Then runs `ceilings.py`'s MongoDB probes on both,
each probe on one backend then on the other (the first of the two alternating from probe to
probe): `insert_one` one by one, `insert_many`, `find_one` by `{_id}` and `{_id, version}`,
`update_one {_id}` and `update_many {_id $in}` per document written; and the same two writes in
collections of each of `--sizes` documents, to show how a write by `_id` grows with the
collection (every relay round writes its documents twice by `_id`). Everything it started is
stopped and its folders deleted at the end.
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ceilings import (
    fill_lookups,
    mongo_bulk,
    mongo_lookups,
    mongo_single,
    mongo_updates,
)
from harness import Rate, machine_note, new_run_id, print_ratio, ratio_text
from pymongo import AsyncMongoClient

from support.endpoints import INFRA, free_port
from support.private_kafka import PrivateFerretDB

SQLITE, POSTGRESQL = "sqlite", "postgresql"
BACKENDS = (SQLITE, POSTGRESQL)

Client = AsyncMongoClient[Any]
Probe = Callable[[Client], Awaitable[list[Rate]]]


@dataclass
class BackendFerretDB(PrivateFerretDB):
    """A private FerretDB whose `infra/ferretdb.sh` also gets `extra_env` (the backend, and for
    PostgreSQL the server's port and folder); otherwise called exactly as `PrivateFerretDB`."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def _run(self, *args: str) -> None:
        env = {
            **os.environ,
            **self.extra_env,
            "FERRETDB_PORT": str(self.port),
            "FERRETDB_DEBUG_PORT": str(self.debug_port),
            "ECI_STATE_DIR": str(self.state_dir),
        }
        subprocess.run(  # noqa: S603 - the clone's own script, fixed arguments
            [str(INFRA / "ferretdb.sh"), *args], env=env, check=True, timeout=180
        )

    def kill(self) -> None:
        self._run("kill")


@dataclass
class Stack:
    """The two FerretDBs, the PostgreSQL server of the second and every folder they use."""

    servers: dict[str, BackendFerretDB]
    postgres_env: dict[str, str]
    folders: list[Path]
    started: list[BackendFerretDB] = field(default_factory=list)

    @classmethod
    def create(cls) -> "Stack":
        # The PostgreSQL server runs as the `postgres` account when this runs as root, and
        # `infra/postgres.sh` chowns only its node folder: the folder above must be traversable
        # by that account (mkdtemp makes it 0700, owned by whoever runs this).
        postgres_state = Path(tempfile.mkdtemp(prefix="eci-bench-pg-", dir="/tmp"))
        postgres_state.chmod(0o755)
        postgres_env = {
            "POSTGRES_PORT": str(free_port()),
            "POSTGRES_STATE_DIR": str(postgres_state),
        }
        folders = [postgres_state]
        servers = {}
        for backend in BACKENDS:
            state = Path(tempfile.mkdtemp(prefix=f"eci-bench-{backend}-"))
            folders.append(state)
            server = BackendFerretDB.create(state)
            server.extra_env = {"FERRETDB_BACKEND": backend}
            if backend == POSTGRESQL:
                server.extra_env.update(postgres_env)
            servers[backend] = server
        return cls(servers, postgres_env, folders)

    def start(self) -> dict[str, float]:
        seconds = {}
        for backend, server in self.servers.items():
            started = time.perf_counter()
            self.started.append(server)
            server.start()
            seconds[backend] = time.perf_counter() - started
        return seconds

    def remove(self) -> None:
        for server in self.started:
            try:
                server.stop()
            except (subprocess.SubprocessError, OSError) as exc:
                print(f"  (FerretDB on {server.port} did not stop cleanly: {exc!r}; killing it)")
                server.kill()
        try:
            # Stops the script's own PostgreSQL server (a no-op when it never started).
            subprocess.run(  # noqa: S603 - the clone's own script, fixed arguments
                [str(INFRA / "postgres.sh"), "stop"],
                env={**os.environ, **self.postgres_env},
                check=True,
                timeout=120,
            )
        finally:
            for folder in self.folders:
                shutil.rmtree(folder, ignore_errors=True)


def probes(args: argparse.Namespace, run: str) -> list[Probe]:
    database = f"bench_{run}_backends"

    async def single(client: Client) -> list[Rate]:
        return [await mongo_single(client, database, args.single, args.budget)]

    async def bulk(client: Client) -> list[Rate]:
        return [await mongo_bulk(client, database, args.bulk, args.budget)]

    async def lookups(client: Client) -> list[Rate]:
        return await mongo_lookups(client, database, args.lookups, args.rounds, args.budget)

    async def updates(client: Client) -> list[Rate]:
        return await mongo_updates(client, database, args.lookups, args.batch, args.budget)

    def growth(size: int) -> Probe:
        async def probe(client: Client) -> list[Rate]:
            grown = f"bench_{run}_grow_{size}"
            await fill_lookups(client, grown, size)
            return await mongo_updates(client, grown, size, args.grow_batch, args.budget)

        return probe

    return [single, bulk, lookups, updates, *(growth(size) for size in args.sizes)]


def postgres_version() -> str:
    found = shutil.which("postgres") or shutil.which("pg_ctl")
    if found is None:
        return "PostgreSQL (version unknown)"
    try:
        out = subprocess.run(  # noqa: S603 - the PostgreSQL binary on PATH, fixed argument
            [found, "--version"], capture_output=True, text=True, check=True
        )
    except (subprocess.SubprocessError, OSError):
        return "PostgreSQL (version unknown)"
    return out.stdout.strip()


def print_table(rows: list[tuple[Rate, Rate]]) -> None:
    width = max(len(sqlite.name) for sqlite, _ in rows)
    cell = 28
    print(f"\n  {'probe':<{width}}  {SQLITE:>{cell}}  {POSTGRESQL:>{cell}}  {'pg / sqlite':>11}")
    for sqlite, postgresql in rows:
        cells = [
            f"{rate.per_s:.1f} /s ({rate.count} in {rate.seconds:.1f} s)"
            for rate in (sqlite, postgresql)
        ]
        ratio = postgresql.per_s / sqlite.per_s if sqlite.per_s else 0.0
        print(
            f"  {sqlite.name:<{width}}  {cells[0]:>{cell}}  {cells[1]:>{cell}}"
            f"  {ratio_text(ratio):>11}"
        )


def sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1500, help="documents inserted one by one")
    parser.add_argument("--bulk", type=int, default=10_000, help="documents in bulk")
    parser.add_argument("--lookups", type=int, default=2000, help="documents to look up in")
    parser.add_argument("--rounds", type=int, default=40, help="find_one calls per lookup")
    parser.add_argument("--batch", type=int, default=100, help="documents updated, --lookups")
    parser.add_argument(
        "--sizes", type=sizes, default=[1000, 10_000], help="collection sizes, comma-separated"
    )
    parser.add_argument("--grow-batch", type=int, default=25, help="documents updated, --sizes")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds per measurement")
    args = parser.parse_args()

    run = new_run_id()
    sync = os.environ.get("FERRETDB_SQLITE_SYNC", "normal")
    print(
        f"backends, run {run}: FerretDB v1.24.2, SQLite (synchronous={sync}) and "
        f"{postgres_version()} (fsync=off); {machine_note()}"
    )
    stack = Stack.create()
    try:
        start_seconds = await asyncio.to_thread(stack.start)
        for backend, server in stack.servers.items():
            print(
                f"  {backend}: FerretDB on {server.uri} ({start_seconds[backend]:.1f} s to start)"
            )
        postgres_port = stack.postgres_env["POSTGRES_PORT"]
        print(f"  postgresql: its own PostgreSQL server on 127.0.0.1:{postgres_port}")
        clients: dict[str, Client] = {
            backend: AsyncMongoClient(server.uri) for backend, server in stack.servers.items()
        }
        results: dict[str, list[Rate]] = {backend: [] for backend in BACKENDS}
        try:
            for index, probe in enumerate(probes(args, run)):
                order = BACKENDS if index % 2 == 0 else BACKENDS[::-1]
                for backend in order:
                    results[backend].extend(await probe(clients[backend]))
        finally:
            for client in clients.values():
                await client.close()
    finally:
        await asyncio.to_thread(stack.remove)

    rows = list(zip(results[SQLITE], results[POSTGRESQL], strict=True))
    print("\nMongoDB wire (PyMongo async), 1 KiB documents, per operation or document written")
    print_table(rows)
    print("\nRatios (same run, probes alternated)")
    for sqlite, postgresql in rows:
        print_ratio(f"postgresql / sqlite, {sqlite.name}", postgresql, sqlite)


if __name__ == "__main__":
    asyncio.run(main())
