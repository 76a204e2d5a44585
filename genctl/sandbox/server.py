"""The one HTTP server: maps path prefixes to emulated hosts, applies faults, records and writes responses."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from genctl.sandbox import fal, fal_platform, fal_queue, hostile, replicate_api
from genctl.sandbox.faults import Fault, FaultSet
from genctl.sandbox.keys import fingerprint
from genctl.sandbox.outputs import media_response
from genctl.sandbox.state import Context, RequestRecord
from genctl.sandbox.wire import Request, Response, fal_detail

log = logging.getLogger("genctl.sandbox")

# (path prefix, host name, provider) — longest prefixes first.
HOSTS: tuple[tuple[str, str, str], ...] = (
    ("/fal/queue", "fal.queue", "fal"),
    ("/fal/run", "fal.run", "fal"),
    ("/fal/api/v1", "fal.api", "fal"),
    ("/fal/rest", "fal.rest", "fal"),
    ("/fal/cdn", "fal.cdn", "fal"),
    ("/media", "media", "media"),
    ("/replicate", "replicate", "replicate"),
    ("/_sandbox", "sandbox", "sandbox"),
)
Handler = Callable[[Request, Context], Response]
Control = Callable[[Request], Response]


def classify(path: str) -> tuple[str, str, str]:
    """(host, provider, path below the prefix) for a request path."""
    for prefix, host, provider in HOSTS:
        if path == prefix or path.startswith(prefix + "/"):
            return host, provider, path[len(prefix) :]
    return "unknown", "unknown", path


def _media(req: Request, ctx: Context) -> Response:
    parts = req.sub.strip("/").split("/")  # /media/{provider}/{media_id}/{filename}
    with ctx.store.lock:
        spec = ctx.store.media.get(parts[1]) if len(parts) >= 2 else None
    if spec is None:
        return Response(404, {"Content-Type": "text/plain"}, b"Not Found")  # UNVERIFIED: a CDN's 404 page
    return media_response(spec)


ROUTES: dict[str, Handler] = {
    "fal.queue": fal_queue.handle_queue,
    "fal.run": fal.handle_run,
    "fal.api": fal_platform.handle_api,
    "fal.rest": fal_platform.handle_rest,
    "fal.cdn": fal_platform.handle_cdn,
    "media": _media,
    "replicate": replicate_api.handle,
}


def credential(headers: dict[str, str]) -> str | None:
    """The raw key or token in Authorization, whatever the scheme; only ever stored as a fingerprint."""
    value = headers.get("authorization")
    if not value:
        return None
    _, _, raw = value.partition(" ")
    return raw or value


class SandboxServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its open connections so stop() can cut keep-alive sockets."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of concurrent clients (`genctl doctor`
    # opens ~20 connections at once), and each dropped one costs a 1 s retransmit.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        ctx: Context,
        faults: FaultSet,
        stop: threading.Event,
        control: Control,
    ) -> None:
        super().__init__(address, SandboxHandler)
        self.ctx, self.faults, self.stop_event, self.control = ctx, faults, stop, control
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer (genctl cancelling a download, a timeout) is routine here: say so
        in the log. socketserver's default prints a traceback on stderr, which in-process is genctl's own."""
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, ConnectionError | TimeoutError):
            log.debug("%s went away mid-answer (%s)", client_address[0], kind.__name__)
            return
        log.warning("sandbox: error answering %s", client_address[0], exc_info=True)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real hosts; every response has a length
    server_version = "genctl-sandbox"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this long
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle + delayed ACK adds ~40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_QUERY = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        started = time.time()
        path, _, query = self.path.partition("?")
        host, provider, sub = classify(path)
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        host_port = self.server.server_address[:2]
        base_url = "http://" + (headers.get("host") or f"{host_port[0]!s}:{host_port[1]!s}")
        req = Request(self.command, path, sub, Request.parse_query(query), headers, body, base_url)
        req.stop = self.server.stop_event
        if host == "sandbox":
            self._write(self.server.control(req), None)
            return
        raw_key = credential(headers)
        fault = self.server.faults.take(host, self.command, path, raw_key)
        action = fault.action if fault is not None else None
        if fault is not None and action == "delay":
            req.wait(fault.delay)
        refused = self.server.faults.meet(fault) if fault is not None and action == "barrier" else None
        if action in ("drop", "hang", "reset"):
            self._record(req, host, provider, raw_key, None, started, fault)
            if action == "hang":
                hostile.hang(self.connection, self.server.stop_event)
            if action == "reset":
                self.close_connection = True
                hostile.reset(self.connection)
            else:
                self._drop()
            return
        if refused is not None:
            response = refused
        elif fault is not None and (action == "respond" or (action == "trickle" and fault.body is not None)):
            response = fault.response()
        elif fault is not None and action == "redirect_loop":
            response = hostile.redirect_loop(req)
        else:
            response = self._dispatch(host, req)
        if fault is not None and action == "rewrite":
            response = hostile.rewrite(response, fault.variant or "")
        req.wait(self.server.ctx.config.response_delay)
        # Recorded before writing, so a client that has its answer always finds the record there.
        self._record(req, host, provider, raw_key, response.status, started, fault)
        self._write(response, fault)

    def _dispatch(self, host: str, req: Request) -> Response:
        route = ROUTES.get(host)
        if route is None:
            return fal_detail(404, "Not Found")  # a path under no emulated host: the sandbox's own answer
        try:
            return route(req, self.server.ctx)
        except Exception as exc:  # a sandbox bug must surface as a 500 with a reason, not a hung client
            log.exception("sandbox handler failed for %s %s", req.method, req.path)
            return fal_detail(500, f"sandbox internal error: {type(exc).__name__}: {exc}")

    def _record(
        self,
        req: Request,
        host: str,
        provider: str,
        raw_key: str | None,
        status: int | None,
        started: float,
        fault: Fault | None,
    ) -> None:
        query = "&".join(f"{k}={v}" for k, values in req.query.items() for v in values)
        self.server.ctx.store.record(
            RequestRecord(
                method=req.method,
                path=req.path,
                query=query,
                host=host,
                provider=provider,
                key_fingerprint=fingerprint(raw_key) if raw_key else None,
                status=status,
                time=started,
                duration=time.time() - started,
                fault=fault.id if fault is not None else None,
            )
        )

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, response: Response, fault: Fault | None) -> None:
        length = response.content_length
        cut: int | None = None
        events: int | None = None  # on a chunked (SSE) stream: drop after this many `data:` events
        if fault is not None and fault.action == "drop_mid_body":
            if response.chunked:
                events = fault.after_events if fault.after_events is not None else 1
            else:
                cut = fault.after_bytes if fault.after_bytes is not None else length // 2
        trickle = fault.interval if fault is not None and fault.action == "trickle" else None
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            elif response.status != 204:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command == "HEAD" or response.status == 204:
                return
            if response.chunked:
                self._write_chunked(response, events)
                return
            sent = 0
            chunks = response.stream if response.stream is not None else iter([response.body])
            for chunk in chunks:
                if cut is not None and sent + len(chunk) >= cut:
                    self.wfile.write(chunk[: cut - sent])
                    self.wfile.flush()
                    self._drop()  # headers promised `length` bytes; the client gets `cut` and an EOF
                    return
                if trickle is not None:
                    self._trickle(chunk, trickle)
                else:
                    self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.flush()
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:
                close()

    def _write_chunked(self, response: Response, drop_after_events: int | None) -> None:
        """One HTTP chunk per stream item, flushed at once (SSE events must not wait in a buffer)."""
        seen = 0
        for chunk in response.stream or iter(()):
            if drop_after_events is not None and chunk.startswith(b"data:"):
                if seen >= drop_after_events:
                    self._drop()  # mid-stream: no terminating chunk, the client sees the body cut short
                    return
                seen += 1
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _trickle(self, chunk: bytes, interval: float) -> None:
        for i in range(len(chunk)):
            self.wfile.write(chunk[i : i + 1])
            self.wfile.flush()
            if self.server.stop_event.wait(interval):
                raise BrokenPipeError("sandbox stopping")
