"""A local HTTP server standing in for an SMS gateway: records each request, answers as scripted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.loopback import QuietHandler, loopback_server


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Gateway:
    """Records every request and answers with the next scripted reply (status, JSON body or raw text)."""

    url: str
    seen: list[Seen] = field(default_factory=list)
    status: int = 200
    body: object = field(default_factory=lambda: {"id": "msg-1"})
    delay: float = 0.0

    def answer(self, status: int, body: object) -> None:
        self.status, self.body = status, body


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            gateway.seen.append(Seen("POST", self.path, dict(self.headers.items()), body))
            time.sleep(gateway.delay)
            raw = gateway.body if isinstance(gateway.body, str) else json.dumps(gateway.body)
            payload = raw.encode()
            self.send_response(gateway.status)
            self.send_header("Content-Type", "text/plain" if isinstance(gateway.body, str) else "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def running_gateway() -> Iterator[Gateway]:
    with loopback_server() as (server, url):
        state = Gateway(url=url)
        server.RequestHandlerClass = _handler(state)
        yield state
