"""Hostile loopback servers for the deadline, signal and money tests: hosts that hang, trickle, reset or lie.

TO BE REPLACED by the sandbox's own fault injection (`genctl/sandbox/faults.py`: actions hang, trickle,
reset, html200, …) once that branch is merged: each rule here maps onto one of those faults. Until then
`Hostile` sits in front of a sandbox as a forwarding proxy: a request matching a rule misbehaves, every
other request goes to the sandbox, and the sandbox's URLs in answers are rewritten to point back here
(so follow-up calls — status, result, downloads, uploads — pass through the proxy too).

Raw sockets, not http.server: a trickle must control every byte, a reset must be a real RST.
"""

from __future__ import annotations

import http.client
import re
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["hang", "trickle", "trickle_headers", "reset", "html200"]
HANG_MAX = 60.0  # a hanging handler gives up after this: a broken deadline fails its test, never hangs it


@dataclass
class Rule:
    action: Action
    path: str | None = None  # regex searched in the request path (with its query)
    method: str | None = None
    body: str | None = None  # substring of the request body
    times: int | None = None  # how many matching requests it fires for (None: all)
    interval: float = 0.2  # trickle: seconds between bytes (well within any read timeout)
    fired: int = 0

    def matches(self, method: str, path: str, body: bytes) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and not re.search(self.path, path):
            return False
        return self.body is None or self.body.encode() in body


@dataclass
class Seen:
    method: str
    path: str
    body: bytes
    rule: Action | None
    cut: bool = False  # the client closed the connection before the misbehaving answer was over


@dataclass
class Hostile:
    """A forwarding proxy to `upstream` (a sandbox URL) with misbehaving rules; a context manager."""

    upstream: str | None = None
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )  # shutdown() waits up to one poll: 0.5 s by default, on every test

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()

    def rule(self, action: Action, **match: object) -> Rule:
        made = Rule(action, **match)  # type: ignore[arg-type]
        with self._lock:
            self.rules.append(made)
        return made

    def env(self, sandbox_env: dict[str, str]) -> dict[str, str]:
        """A sandbox's environment with every URL pointing through this proxy."""
        assert self.upstream is not None
        return {name: value.replace(self.upstream, self.url) for name, value in sandbox_env.items()}

    def cut(self, action: Action) -> list[bool]:
        """For each request `action` answered: whether the client hung up first (waits a moment for it)."""
        end = time.monotonic() + 5
        while time.monotonic() < end and not all(s.cut for s in self.requests(action)):
            time.sleep(0.02)
        return [s.cut for s in self.requests(action)]

    def requests(self, action: Action | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if action is None or s.rule == action]

    # -- serving ----------------------------------------------------------------------------------------

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(HANG_MAX)
        try:
            while not self.stop.is_set():
                request = _read_request(conn)
                if request is None:
                    return
                method, path, headers, body = request
                with self._lock:
                    rule = next((r for r in self.rules if r.matches(method, path, body)), None)
                    if rule is not None:
                        rule.fired += 1
                    seen = Seen(method, path, body, rule.action if rule else None)
                    self.seen.append(seen)
                if not self._answer(conn, rule, seen, headers):
                    return
        except OSError:
            return
        finally:
            with suppress(OSError):
                conn.close()

    def _answer(self, conn: socket.socket, rule: Rule | None, seen: Seen, headers: dict[str, str]) -> bool:
        """Answer one request; False when the connection is finished with."""
        method, path, body = seen.method, seen.path, seen.body
        if rule is not None and rule.action == "hang":
            seen.cut = _closed_by_peer(conn, self.stop)
            return False
        if rule is not None and rule.action == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if rule is not None and rule.action == "html200":
            page = b"<html><body>Welcome to our captive portal</body></html>"
            head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(page)}\r\n\r\n"
            conn.sendall(head.encode() + page)
            return True
        status, reason, answer_headers, answer = self._forward(method, path, headers, body)
        head = f"HTTP/1.1 {status} {reason}\r\n"
        for name, value in answer_headers:
            head += f"{name}: {value}\r\n"
        head += f"Content-Length: {len(answer)}\r\nConnection: keep-alive\r\n\r\n"
        if rule is not None and rule.action == "trickle_headers":
            seen.cut = not self._trickle(conn, head.encode() + answer, rule.interval)
            return False
        if rule is not None and rule.action == "trickle":
            conn.sendall(head.encode())
            seen.cut = not self._trickle(conn, answer, rule.interval)
            return False
        conn.sendall(head.encode() + answer)
        return True

    def _trickle(self, conn: socket.socket, data: bytes, interval: float) -> bool:
        """Send `data` a byte every `interval` s (for HANG_MAX at most); False if the client hung up first."""
        give_up = time.monotonic() + HANG_MAX
        for index in range(len(data)):
            if time.monotonic() > give_up:
                return True
            end = time.monotonic() + interval
            while time.monotonic() < end:
                if self.stop.wait(0.02):
                    return True
                if _peer_gone(conn):
                    return False
            try:
                conn.sendall(data[index : index + 1])
            except OSError:
                return False
        return True

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        if self.upstream is None:
            return 404, "Not Found", [("Content-Type", "text/plain")], b"no upstream"
        host = self.upstream.removeprefix("http://")
        upstream = http.client.HTTPConnection(host, timeout=30)
        try:
            sent = {k: v.replace(self.url, self.upstream) for k, v in headers.items() if k.lower() != "host"}
            upstream.request(method, path, body=body or None, headers=sent)
            response = upstream.getresponse()
            answer = response.read()
            kept = [
                (name, value.replace(self.upstream, self.url))
                for name, value in response.getheaders()
                if name.lower() not in ("content-length", "transfer-encoding", "connection")
            ]
            return (
                response.status,
                response.reason,
                kept,
                answer.replace(self.upstream.encode(), self.url.encode()),
            )
        finally:
            upstream.close()


def _peer_gone(conn: socket.socket) -> bool:
    """Whether the client has closed its end (without waiting: a socket timeout would make recv block)."""
    import select

    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _closed_by_peer(conn: socket.socket, stop: threading.Event) -> bool:
    """Wait (never answering) until the client hangs up (True) or the server stops (False)."""
    conn.settimeout(0.05)
    end = time.monotonic() + HANG_MAX
    while not stop.is_set() and time.monotonic() < end:
        try:
            if conn.recv(1) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return method, path, headers, rest[:length]


@contextmanager
def hostile(upstream: str | None = None) -> Iterator[Hostile]:
    with Hostile(upstream) as server:
        yield server


def wait_for(condition: object, *, within: float = 20.0, step: float = 0.02) -> None:
    """Wait until `condition()` is true (a subprocess reached a state); fail after `within` seconds."""
    assert callable(condition)
    end = time.monotonic() + within
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"condition not reached within {within} s")
        time.sleep(step)
