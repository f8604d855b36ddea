"""A stand-in for an OpenID Connect provider's JWKS endpoint: a tiny HTTP server on the loopback
serving the document the test sets, counting the requests, able to fail on demand."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class JwksEndpoint:
    url: str = ""
    document: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    requests: int = 0
    failing: bool = False


@contextmanager
def serve_jwks() -> Iterator[JwksEndpoint]:
    endpoint = JwksEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.requests += 1
            if endpoint.failing:
                self.send_error(503)
                return
            body = json.dumps(endpoint.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = (
        f"http://127.0.0.1:{server.server_address[1]}/realms/eci/protocol/openid-connect/certs"
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
