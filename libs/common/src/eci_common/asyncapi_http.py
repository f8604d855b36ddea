"""Serving a service's AsyncAPI document: `GET /asyncapi.json`, and `GET /asyncapi` as HTML.

The HTML page is plain server-side HTML with inline CSS: no script and nothing fetched from the
internet, so it works on an isolated network and leaks nothing to a CDN. It shows what an
integrator looks for first (servers, channels, and per message its key and payload fields);
the JSON document has the rest.
"""

import functools
import html
from collections.abc import Callable, Mapping
from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222;
       padding: 0 1rem; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
code { background: #f6f6f6; padding: 0 0.2rem; }
section.message { border-top: 2px solid #ddd; margin-top: 1.5rem; }
.deprecated { color: #a40000; font-weight: bold; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _code(value: object) -> str:
    return f"<code>{_e(value)}</code>"


def _resolve_ref(reference: str, document: Mapping[str, Any]) -> Any:
    target: Any = document
    for part in reference.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _type_label(schema: Any) -> str:
    """A short human reading of a property's schema: `string (date-time) | null`, `array of …`."""
    if not isinstance(schema, Mapping):
        return "any"
    union = schema.get("anyOf", schema.get("oneOf"))
    kind = schema.get("type", "any")
    if "$ref" in schema:
        label = str(schema["$ref"]).rsplit("/", 1)[-1]
    elif isinstance(union, list):
        label = " | ".join(_type_label(member) for member in union)
    elif "const" in schema:
        label = f"const {schema['const']!r}"
    elif isinstance(schema.get("enum"), list):
        label = "one of " + ", ".join(repr(value) for value in schema["enum"])
    elif kind == "array":
        label = f"array of {_type_label(schema.get('items'))}"
    else:
        label = f"{kind} ({schema['format']})" if "format" in schema else str(kind)
    return label


def _properties_table(schema: Mapping[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td>{_code(name)}</td><td>{_e(_type_label(prop))}</td>"
        f"<td>{'yes' if name in required else 'no'}</td>"
        f"<td>{_e(prop.get('description', '')) if isinstance(prop, Mapping) else ''}</td></tr>"
        for name, prop in schema.get("properties", {}).items()
    )
    return (
        "<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr>"
        f"{rows}</table>"
    )


def render_html(document: Mapping[str, Any]) -> str:
    """The AsyncAPI document as one self-contained HTML page of tables."""
    info = document.get("info", {})
    servers = "".join(
        f"<tr><td>{_e(name)}</td><td>{_code(server.get('host'))}</td>"
        f"<td>{_e(server.get('protocol'))}</td><td>{_e(server.get('description', ''))}</td></tr>"
        for name, server in document.get("servers", {}).items()
    )
    operations = "".join(
        f"<tr><td>{_e(operation['action'])}</td>"
        f"<td>{_code(_resolve_ref(operation['channel']['$ref'], document)['address'])}</td>"
        "<td>"
        + "<br>".join(
            f'<a href="#{_e(ref["$ref"].rsplit("/", 1)[-1])}">'
            f"{_e(ref['$ref'].rsplit('/', 1)[-1])}</a>"
            for ref in operation.get("messages", [])
        )
        + "</td></tr>"
        for operation in document.get("operations", {}).values()
    )
    channels = "".join(
        f"<tr><td>{_code(channel['address'])}</td><td>{_e(channel.get('description', ''))}</td>"
        f"<td>{len(channel.get('messages', {}))}</td></tr>"
        for channel in document.get("channels", {}).values()
    )
    components = document.get("components", {})
    headers_schemas = components.get("schemas", {})
    messages = []
    for message_id, message in components.get("messages", {}).items():
        key = message.get("bindings", {}).get("kafka", {}).get("key", {})
        deprecated = (
            f'<p class="deprecated">Deprecated: no longer emitted from '
            f"{_e(message['x-deprecated']['sunset'])}</p>"
            if "x-deprecated" in message
            else ""
        )
        payload = message.get("payload", {})
        messages.append(
            f'<section class="message" id="{_e(message_id)}">'
            f"<h3>{_code(message.get('name', message_id))}</h3>{deprecated}"
            f"<p>{_e(message.get('summary', ''))}</p>"
            "<table>"
            f"<tr><th>Topic</th><td>{_code(payload.get('x-topic', ''))}</td></tr>"
            f"<tr><th>Key</th><td>{_e(key.get('description', ''))}</td></tr>"
            f"<tr><th>Content type</th><td>{_code(message.get('contentType', ''))}</td></tr>"
            f"<tr><th>Schema</th><td>{_code(payload.get('$id', ''))}</td></tr>"
            "</table>"
            f"<h4>Payload (record body)</h4>{_properties_table(payload)}</section>"
        )
    headers = "".join(
        f"<h3>{_e(schema.get('title', name))}</h3>{_properties_table(schema)}"
        for name, schema in headers_schemas.items()
    )
    title = _e(info.get("title", "AsyncAPI"))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title} <small>{_e(info.get('version', ''))}</small></h1>"
        f"<p>{_e(info.get('description', ''))}</p>"
        f"<p>AsyncAPI {_e(document.get('asyncapi', ''))} document: "
        '<a href="asyncapi.json">asyncapi.json</a></p>'
        "<h2>Servers</h2><table><tr><th>Name</th><th>Host</th><th>Protocol</th>"
        f"<th>Description</th></tr>{servers}</table>"
        "<h2>Channels (topics)</h2><table><tr><th>Topic</th><th>Description</th>"
        f"<th>Messages</th></tr>{channels}</table>"
        "<h2>Operations</h2><table><tr><th>Action</th><th>Topic</th><th>Messages</th></tr>"
        f"{operations}</table>"
        f"<h2>Headers</h2>{headers}"
        f"<h2>Messages</h2>{''.join(messages)}"
        "</body></html>"
    )


def asyncapi_router(document_factory: Callable[[], dict[str, Any]]) -> APIRouter:
    """Routes serving the document that `document_factory` builds (once, on first request)."""
    document = functools.cache(document_factory)
    router = APIRouter(tags=["contracts"])

    @router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of this service's events")
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(document())

    @router.get("/asyncapi", response_class=HTMLResponse, summary="The AsyncAPI document, as HTML")
    async def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(render_html(document()))

    return router
