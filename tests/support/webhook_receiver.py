"""A local webhook receiver (`http.server` in a thread) that checks the ECI signature.

`fail_first` answers 503 to that many calls of each delivery (`X-ECI-Delivery`) before answering
204 (`fail_first=-1`: always 503). Every call is kept with whether its signature verified.
"""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eci_notifications.domain import SIGNATURE_HEADER, verify_signature


@dataclass
class Call:
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float


@dataclass
class WebhookReceiver:
    fail_first: int = 0
    secret: str = ""
    calls: list[Call] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def of(self, delivery_id: str) -> list[Call]:
        """The calls of one delivery, in order."""
        return [call for call in self.calls if call.headers.get("X-ECI-Delivery") == delivery_id]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                verified = verify_signature(
                    receiver.secret,
                    self.headers.get(SIGNATURE_HEADER, ""),
                    body,
                    now=int(time.time()),
                    tolerance_s=300,
                )
                call = Call(dict(self.headers), body, verified, time.monotonic())
                receiver.calls.append(call)
                seen = len(receiver.of(call.headers.get("X-ECI-Delivery", "")))
                failing = receiver.fail_first < 0 or seen <= receiver.fail_first
                self.send_response(503 if failing or not verified else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
