"""A fake Twilio REST API on loopback: records what the real `twilio` client sends."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class FakeTwilio:
    url: str = ""
    requests: list[tuple[str, dict[str, list[str]], str]] = field(default_factory=list)
    fail: bool = False


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    seen = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = parse_qs(self.rfile.read(length).decode())
            seen.requests.append((self.path, body, self.headers.get("Authorization", "")))
            if seen.fail:
                payload = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
                self._send(400, payload)
                return
            prefix = "SM" if self.path.endswith("/Messages.json") else "CA"
            self._send(201, {"sid": prefix + uuid.uuid4().hex, "status": "queued"})

        def _send(self, status: int, payload: dict[str, object]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
