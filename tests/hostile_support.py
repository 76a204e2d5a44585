"""A hostile server for tests: a loopback HTTP server that answers what a test scripts, and passes the rest
through to an upstream (the sandbox) — so one answer can lie while the rest of the flow stays real."""

from __future__ import annotations

import gzip
import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAL_SECRET = "6f1c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f:8c2f9a4e1b7d6c3a5e0f9b8d7c6a5e4f"
REPLICATE_SECRET = "r8_Zq4Xw9Lm2Np7Rs5Tu8Vy1Ab3Cd6Ef0Gh2Jk4M"
GZIP_GARBAGE = b"\x1f\x8b\x08\x00garbage-that-is-not-deflate" * 4


@dataclass(frozen=True)
class Seen:
    """One request the hostile server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


# (request seen, the upstream's answer or None) -> the answer to send, or None to pass the upstream's on
Script = Callable[[Seen, Answer | None], Answer | None]


class HostileServer:
    def __init__(self, script: Script, upstream: str | None = None) -> None:
        self.script = script
        self.upstream = urlsplit(upstream) if upstream else None
        self.seen: list[Seen] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _forward(self, seen: Seen) -> Answer:
        assert self.upstream is not None
        conn = http.client.HTTPConnection(self.upstream.hostname or "", self.upstream.port, timeout=10)
        headers = {k: v for k, v in seen.headers.items() if k.lower() not in ("host", "accept-encoding")}
        conn.request(seen.method, seen.path, body=seen.body or None, headers=headers)
        response = conn.getresponse()
        body = response.read()
        kept = {
            k: v for k, v in response.getheaders() if k.lower() not in ("transfer-encoding", "connection")
        }
        conn.close()
        return Answer(response.status, kept, body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                server.seen.append(seen)
                upstream = server._forward(seen) if server.upstream is not None else None
                answer = server.script(seen, upstream) or upstream or Answer(404, {}, b'{"detail":"no"}')
                self.send_response(answer.status)
                headers = {k.lower(): v for k, v in answer.headers.items()}
                headers["content-length"] = str(len(answer.body))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        return Handler

    @contextmanager
    def running(self) -> Iterator[HostileServer]:
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )  # shutdown() waits up to one poll: 0.5 s by default, on every test
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def gzip_body(data: bytes) -> bytes:
    return gzip.compress(data)
