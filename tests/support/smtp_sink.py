"""A real SMTP server, run as its own process, that keeps every message it receives as a file.

Run: `python -m support.smtp_sink PORT DIRECTORY`. Stopgap: it uses the standard library's
`smtpd` (deprecated, present in Python 3.11, gone in 3.12); `aiosmtpd` replaces it once it is a
development dependency. `SmtpSink` starts it on a free port and reads the messages back.
"""

import email
import email.policy
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from support.endpoints import REPO, free_port


@dataclass
class SmtpSink:
    """The server process, its port and the folder where messages land."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "support.smtp_sink", str(self.port), str(self.directory)],
            cwd=REPO / "tests",
        )
        deadline = time.monotonic() + 10
        while not (self.directory / ".ready").exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the SMTP sink did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def messages(self) -> list[EmailMessage]:
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if m["To"] == address]


def _serve(port: int, directory: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import asyncore  # noqa: PLC0415 - deprecated module, only in this stopgap process
        import smtpd  # noqa: PLC0415

    class Keeper(smtpd.SMTPServer):
        count = 0

        def process_message(  # type: ignore[override]
            self, peer: object, mailfrom: str, rcpttos: list[str], data: bytes, **kwargs: object
        ) -> None:
            Keeper.count += 1
            name = f"{time.time_ns()}-{Keeper.count:05d}.eml"
            (directory / f".{name}").write_bytes(data)
            (directory / f".{name}").rename(directory / name)  # readers never see half a file

    Keeper(("127.0.0.1", port), None, decode_data=False)
    (directory / ".ready").touch()
    asyncore.loop(timeout=0.2)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), Path(sys.argv[2]))
