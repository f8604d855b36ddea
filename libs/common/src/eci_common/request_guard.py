"""What a request body may be before any route sees it: bounded in size, and free of MongoDB
operators.

`RequestGuard` is plain ASGI (no `BaseHTTPMiddleware`): it reads the body itself, counting the
bytes as they stream in (a chunked body has no Content-Length to trust), answers 413 past the
limit, and for a JSON body refuses any object key, at any depth, that MongoDB could read as an
operator or a path (`$…`, `a.b`) with a 422 in FastAPI's own error shape. The body is then handed
to the app unchanged. A body that is not JSON at all is left to FastAPI, which answers 422.
"""

import email.message
import json
from typing import Any, Final

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eci_common.http import SafeJSONResponse

DISABLED: Final = "off"
_MAX_REPORTED = 20


class GuardSettings(BaseSettings):
    """Limits every REST API applies to its callers (unprefixed: one value for every service)."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    max_body_bytes: int = Field(1024 * 1024, gt=0, validation_alias="HTTP_MAX_BODY_BYTES")
    write_rate_limit: str = Field("200/second", validation_alias="HTTP_WRITE_RATE_LIMIT")

    @field_validator("write_rate_limit")
    @classmethod
    def _parsable(cls, value: str) -> str:
        """Fails at start-up, not on the first write, when the limit cannot be read."""
        if value.strip().lower() != DISABLED:
            parse_many(value)
        return value


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key-value pairs: duplicate keys are all seen, not only the last."""


def operator_key_errors(document: Any) -> list[dict[str, Any]]:
    """FastAPI-style errors for each key MongoDB could take for an operator or a path."""
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
                stack.append((value, (*path, key)))
        elif isinstance(node, list):
            stack.extend((item, (*path, index)) for index, item in reversed(list(enumerate(node))))
    return sorted(errors, key=lambda error: [str(part) for part in error["loc"]])


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

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
        document = json.loads(body, object_pairs_hook=_Pairs)
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
