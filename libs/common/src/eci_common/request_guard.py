"""What a request may carry before any route sees it: a body bounded in size and free of MongoDB
operators, no NaN or Infinity in it, and no NUL character anywhere (body, path, query).

`RequestGuard` is plain ASGI (no `BaseHTTPMiddleware`): it reads the body itself, counting the
bytes as they stream in (a chunked body has no Content-Length to trust), answers 413 past the
limit, and for a JSON body refuses any object key, at any depth, that MongoDB could read as an
operator or a path (`$…`, `a.b`) with a 422 in FastAPI's own error shape. It also refuses, naming
the field: `NaN`, `Infinity` and numbers too large for a float, which Python's `json` accepts but
no JSON response can echo back; and a NUL character in a key, a string, a path parameter or a
query parameter, which PostgreSQL (under FerretDB) refuses to store. The body is then handed to
the app unchanged. A body that is not JSON at all is left to FastAPI, which answers 422.
"""

import email.message
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import parse_qsl

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eci_common.json_response import SafeJSONResponse
from eci_common.rate_limit import trusted_networks

DISABLED: Final = "off"
_MAX_REPORTED = 20


class GuardSettings(BaseSettings):
    """Limits every REST API applies to its callers (unprefixed: one value for every service)."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    # Larger request bodies get 413.
    max_body_bytes: int = Field(1024 * 1024, gt=0, validation_alias="HTTP_MAX_BODY_BYTES")
    # Per verified subject (a token's `sub`), whatever the number of its tokens.
    write_rate_limit: str = Field("200/second", validation_alias="HTTP_WRITE_RATE_LIMIT")
    # 401 answers per client address; past it, that address gets 429 for every request.
    auth_failure_limit: str = Field("30/minute", validation_alias="HTTP_AUTH_FAILURE_LIMIT")
    # Comma-separated addresses or CIDR networks of the reverse proxies whose X-Forwarded-For
    # names the client; empty (the default): the header is ignored, the peer is the client.
    trusted_proxies: str = Field("", validation_alias="HTTP_TRUSTED_PROXIES")

    @field_validator("write_rate_limit", "auth_failure_limit")
    @classmethod
    def _parsable(cls, value: str) -> str:
        """Fails at start-up, not on the first write, when the limit cannot be read."""
        if value.strip().lower() != DISABLED:
            parse_many(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        trusted_networks(value)  # ValueError naming the address that is none
        return value


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key-value pairs: duplicate keys are all seen, not only the last."""


class _NonFinite(str):
    """What the body said where it wrote `NaN`, `Infinity` or a number beyond a float."""


NUL: Final = "\x00"
_NUL_MESSAGE: Final = "a NUL character (\\u0000, %00) is not allowed"


def _constant(name: str) -> _NonFinite:
    return _NonFinite(name)


def _float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _error(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    """FastAPI's error shape, without the input: what is refused here cannot be echoed."""
    return {"loc": loc, "msg": msg, "type": kind}


def operator_key_errors(document: Any) -> list[dict[str, Any]]:
    """FastAPI-style errors for each key MongoDB could take for an operator or a path, each key
    or string holding a NUL, and each non-finite number."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack and len(errors) < _MAX_REPORTED:  # a loop: nesting depth cannot exhaust the stack
        node, path = stack.pop()
        if isinstance(node, _Pairs):
            for key, value in reversed(node):
                if key.startswith("$") or "." in key:
                    errors.append(
                        {
                            "loc": ["body", *path, key],
                            "msg": "a key may not start with '$' nor contain '.'",
                            "type": "operator_key",
                            "input": key,
                        }
                    )
                if NUL in key:
                    errors.append(_error(["body", *path, key], _NUL_MESSAGE, "nul_character"))
                stack.append((value, (*path, key)))
        elif isinstance(node, list):
            stack.extend((item, (*path, index)) for index, item in reversed(list(enumerate(node))))
        elif isinstance(node, _NonFinite):
            message = f"{str(node)[:20]} is not a finite number"
            errors.append(_error(["body", *path], message, "finite_number"))
        elif isinstance(node, str) and NUL in node:
            errors.append(_error(["body", *path], _NUL_MESSAGE, "nul_character"))
    return sorted(errors, key=lambda error: [str(part) for part in error["loc"]])


def nul_parameter_errors(scope: Scope, templates: "PathTemplates") -> list[dict[str, Any]]:
    """Errors for each path or query parameter holding a NUL (`%00`), named as the API's own
    document names it (the path itself when no documented path matches)."""
    errors: list[dict[str, Any]] = []
    path: str = scope.get("path", "")
    if NUL in path:
        named = [name for name, value in templates.parameters(path).items() if NUL in value]
        locs: list[list[str | int]] = [["path", name] for name in named] or [["path"]]
        errors.extend(_error(loc, _NUL_MESSAGE, "nul_character") for loc in locs)
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if NUL in name or NUL in value:
            errors.append(_error(["query", name.replace(NUL, "")], _NUL_MESSAGE, "nul_character"))
    return errors[:_MAX_REPORTED]


class PathTemplates:
    """The API's path templates (`/companies/{company_id}`), read once from a callable (the
    app's OpenAPI paths, complete only once every router is included), to name path parameters."""

    def __init__(self, read: Callable[[], Iterable[str]] = tuple) -> None:
        self._read = read
        self._compiled: list[re.Pattern[str]] | None = None

    def parameters(self, path: str) -> dict[str, str]:
        if self._compiled is None:
            self._compiled = [
                re.compile("^" + _PARAMETER.sub(r"(?P<\1>[^/]+)", re.escape(t)) + "$")
                for t in sorted(self._read(), key=len, reverse=True)
            ]
        for pattern in self._compiled:
            match = pattern.match(path)
            if match:
                return match.groupdict()
        return {}


_PARAMETER = re.compile(r"\\\{(\w+)\\\}")


def _is_json(content_type: str | None) -> bool:
    """As FastAPI decides: no content type, `application/json` or `application/*+json`."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


class RequestGuard:
    """Pure ASGI middleware: body size limit (413) and no operator keys in JSON bodies (422)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, templates: PathTemplates | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.templates = templates or PathTemplates()  # to name a path parameter with a NUL

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused_parameters = nul_parameter_errors(scope, self.templates)
        if refused_parameters:
            await JSONResponse({"detail": refused_parameters}, status_code=422)(
                scope, receive, send
            )
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        # A malformed length is the server's to refuse; the bytes are counted below anyway.
        if declared.isdigit() and (len(declared) > 18 or int(declared) > self.max_body_bytes):
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the caller left: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(headers.get("content-type")):
            refused = _refused_keys(body)
            if refused is not None:
                # Safe: a refused key is echoed back, and it may hold a lone surrogate.
                await SafeJSONResponse({"detail": refused}, status_code=422)(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body exceeds {self.max_body_bytes} bytes"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def _refused_keys(body: bytes) -> list[dict[str, Any]] | None:
    try:
        document = json.loads(
            body, object_pairs_hook=_Pairs, parse_constant=_constant, parse_float=_float
        )
    except RecursionError:
        return [
            {"loc": ["body"], "msg": "the JSON document is nested too deeply", "type": "json_depth"}
        ]
    except ValueError:  # not JSON (or not UTF-8): FastAPI answers that one itself
        return None
    return operator_key_errors(document) or None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, in one message; then the server's own `receive` (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
