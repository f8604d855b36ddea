"""Where a service finds the public keys that verify tokens: a JWKS file, re-read when it
changes, and a JWKS URL (ours or an OpenID Connect provider's), fetched with httpx and cached.

Neither needs a restart to follow a rotation: the file is checked (one `stat`) on each lookup
and re-read when its modification time, size or inode change; the URL is fetched again when its
copy is older than `max_age_s`, or when a token names a `kid` it does not list (at most once per
`min_refresh_s`, so that tokens with made-up `kid`s cannot make a service hammer the provider).
A new version that cannot be used (half written, not JSON, private keys) is refused and the last
good one kept.
"""

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Protocol

import httpx
import jwt
import structlog

from eci_common.token_keys import KeyDocumentError, public_keys

_log = structlog.get_logger(__name__)


class KeysUnavailable(Exception):
    """No key set could be had at all (the provider never answered)."""


class KeySource(Protocol):
    async def key(self, kid: str) -> jwt.PyJWK | None: ...


class JwksFile:
    """A JWKS document on disk. It must be readable and valid at start-up."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp = self._stat()
        try:
            self._keys = public_keys(_read_json(path))
        except KeyDocumentError as exc:
            raise KeyDocumentError(f"AUTH_JWKS_FILE {path}: {exc}") from exc

    async def key(self, kid: str) -> jwt.PyJWK | None:
        self._reload_if_changed()
        return self._keys.get(kid)

    def _stat(self) -> tuple[int, int, int]:
        try:
            found = self._path.stat()
        except OSError as exc:
            raise KeyDocumentError(f"cannot read {self._path}: {exc.strerror}") from exc
        return (found.st_mtime_ns, found.st_size, found.st_ino)

    def _reload_if_changed(self) -> None:
        try:
            stamp = self._stat()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            self._keys = public_keys(_read_json(self._path))
        except KeyDocumentError as exc:
            _log.warning("jwks_file_refused", path=str(self._path), reason=str(exc))
            return
        _log.info("jwks_file_reloaded", path=str(self._path), kids=sorted(self._keys))


class JwksUrl:
    """A JWKS document served over HTTP(S), cached in memory."""

    def __init__(
        self, url: str, *, max_age_s: float, min_refresh_s: float, timeout_s: float = 5.0
    ) -> None:
        self._url = url
        self._max_age_s = max_age_s
        self._min_refresh_s = min_refresh_s
        self._timeout_s = timeout_s
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = -float("inf")
        self._tried_at = -float("inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        if self._keys is None or now - self._fetched_at > self._max_age_s:
            await self._refresh(force=self._keys is None)
        elif kid not in self._keys and now - self._tried_at >= self._min_refresh_s:
            await self._refresh(force=False)
        if self._keys is None:
            raise KeysUnavailable(f"the keys of {self._url} could not be fetched")
        return self._keys.get(kid)

    async def _refresh(self, *, force: bool) -> None:
        tried_at = self._tried_at
        async with self._lock:
            if self._tried_at != tried_at:
                return  # another request fetched while this one waited
            if not force and time.monotonic() - self._tried_at < self._min_refresh_s:
                return
            self._tried_at = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                    response = await client.get(self._url, headers={"Accept": "application/json"})
                response.raise_for_status()
                keys = public_keys(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                _log.warning("jwks_fetch_failed", url=self._url, error=type(exc).__name__)
                return
            self._keys, self._fetched_at = keys, time.monotonic()
            _log.info("jwks_fetched", url=self._url, kids=sorted(keys))


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise KeyDocumentError(f"cannot read {path}: {os.strerror(exc.errno or 0)}") from exc
    except ValueError as exc:
        raise KeyDocumentError(f"{path} is not JSON") from exc
