"""Revoked tokens: a file of `jti`s that the services honour without a restart.

One revoked token per line, `<jti> [<exp>]` (the token's expiry, a Unix time, so that
`eci-admin revoke` can drop the lines of tokens that have expired anyway); `#` starts a comment.
The services check the file's modification time on each request and re-read it when it changed.
A missing file revokes nothing.
"""

import time
from pathlib import Path

import structlog

from eci_common.token_keys import write_atomically

_log = structlog.get_logger(__name__)


def parse_revocations(text: str) -> dict[str, int | None]:
    """{jti: exp or None} of the file's lines."""
    revoked: dict[str, int | None] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        expiry = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
        revoked[fields[0]] = expiry
    return revoked


class RevokedTokens:
    """The revoked `jti`s of one file (or none, without a file)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._stamp: tuple[int, int, int] | None = None
        self._revoked: frozenset[str] = frozenset()
        if path is not None and not path.exists():
            _log.warning("revocation_file_missing", path=str(path))
        self._reload_if_changed()

    def is_revoked(self, jti: str) -> bool:
        self._reload_if_changed()
        return jti in self._revoked

    def _reload_if_changed(self) -> None:
        if self._path is None:
            return
        try:
            found = self._path.stat()
            stamp = (found.st_mtime_ns, found.st_size, found.st_ino)
            if stamp == self._stamp:
                return
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._stamp, self._revoked = None, frozenset()
            return
        except OSError as exc:
            # Unreadable: keep what was revoked so far rather than forget it.
            _log.warning("revocation_file_unreadable", path=str(self._path), error=exc.strerror)
            return
        self._stamp, self._revoked = stamp, frozenset(parse_revocations(text))
        _log.info("revocation_file_reloaded", path=str(self._path), revoked=len(self._revoked))


def revoke(path: Path, jti: str, expires_at: int | None, *, now: float | None = None) -> int:
    """Adds `jti` to the file (replaced in one rename) and drops the lines of tokens expired
    more than a day ago; returns how many remain revoked."""
    existing = parse_revocations(path.read_text(encoding="utf-8")) if path.exists() else {}
    horizon = (time.time() if now is None else now) - 24 * 3600
    kept = {j: e for j, e in existing.items() if e is None or e > horizon}
    kept[jti] = expires_at
    lines = [f"{j} {e}" if e is not None else j for j, e in kept.items()]
    header = "# revoked tokens: <jti> [<exp>] (eci-admin revoke)\n"
    content = header + "".join(f"{line}\n" for line in lines)
    write_atomically(path, content.encode(), mode=0o644)
    return len(kept)
