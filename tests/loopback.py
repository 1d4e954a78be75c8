"""A local HTTP server on a free loopback port, standing in for a provider in tests (the SMS and
Stripe stand-ins)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # keep pytest's output clean
        pass


@contextmanager
def loopback_server() -> Iterator[tuple[ThreadingHTTPServer, str]]:
    """The server and its base URL. The caller sets server.RequestHandlerClass before it sends
    the first request (the handler usually needs that URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    # A short poll so shutdown() at teardown does not wait out the default half second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
