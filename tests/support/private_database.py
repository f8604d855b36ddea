"""A FerretDB and the PostgreSQL behind it, both of the test's own (infra/ferretdb.sh and
infra/postgres.sh on free ports, their state in a temporary folder), for tests that stop the
PostgreSQL under a running FerretDB: the outage a FerretDB deployment sees when its backend goes.

The folder is made outside pytest's temporary tree: as root, PostgreSQL runs as the `postgres`
account, which cannot enter pytest's private (0700) folders."""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from support.endpoints import INFRA, free_port


@dataclass
class PrivateFerretDBOnPostgres:
    state_dir: Path
    postgres_port: int
    port: int
    debug_port: int

    @classmethod
    def create(cls) -> "PrivateFerretDBOnPostgres":
        state_dir = Path(tempfile.mkdtemp(prefix="eci-private-db-"))
        state_dir.chmod(0o755)
        return cls(state_dir, free_port(), free_port(), free_port())

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def _run(self, script: str, *args: str) -> None:
        env = {
            **os.environ,
            "FERRETDB_BACKEND": "postgresql",
            "FERRETDB_PORT": str(self.port),
            "FERRETDB_DEBUG_PORT": str(self.debug_port),
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_STATE_DIR": str(self.state_dir),
            "ECI_STATE_DIR": str(self.state_dir),
        }
        subprocess.run([str(INFRA / script), *args], env=env, check=True, timeout=180)

    def start(self) -> None:
        """PostgreSQL (with FerretDB's database), then FerretDB."""
        self._run("ferretdb.sh", "start")

    def stop_postgres(self) -> None:
        """Stops PostgreSQL only (a fast shutdown: sessions are cut); FerretDB keeps running."""
        self._run("postgres.sh", "stop")

    def start_postgres(self) -> None:
        self._run("postgres.sh", "start")

    def stop(self) -> None:
        """Stops both and removes their data."""
        try:
            self._run("ferretdb.sh", "stop")
        finally:
            self._run("postgres.sh", "stop")
            shutil.rmtree(self.state_dir, ignore_errors=True)
