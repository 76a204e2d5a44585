"""Wall-clock time limits: the command's `--timeout`, and the limits of each phase and HTTP exchange under it.

`limit(seconds, what)` opens a block that must end within `seconds` on the wall clock; blocks nest, the
earliest end wins, and `fresh=True` starts over (the cancel sent once the deadline has passed). The limit
lives in a context variable, so it follows the code that runs the block (one thread) and nothing else.

What enforces it: every client `genctl.http.make_client` builds runs its sockets through `DeadlineBackend`,
which caps each connect, read and write at the time left and fails once none is left. A host that
accepts and never answers, and a body (or header) that trickles a byte a second, both end on time; a
per-read timeout alone bounds neither a trickle nor the sum of many reads. Lock waits and sleeps ask
`remaining()`. The clock is `time.monotonic`: wall-clock time that a changed system clock cannot move.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import httpcore

from genctl.errors import GenctlError, error

P = ParamSpec("P")
R = TypeVar("R")

clock: Callable[[], float] = time.monotonic
Remaining = Callable[[], float | None]


@dataclass(frozen=True)
class Limit:
    """The end (clock() value) a block must finish by, and what set it, for messages."""

    end: float
    what: str  # "--timeout 3 s", "the pre-flight's 5 s", "one HTTP exchange's 60 s"
    command: bool  # `end` is the command's own deadline (--timeout), not a phase's or an exchange's
    command_end: float | None = None  # the command's deadline in force, whichever limit is innermost
    command_seconds: float | None = None  # that deadline as given (`--timeout 3` -> 3.0)


_current: ContextVar[Limit | None] = ContextVar("genctl_deadline", default=None)


def current() -> Limit | None:
    """The innermost limit in force here, or None."""
    return _current.get()


def remaining() -> float | None:
    """Seconds left before the innermost limit (0 once passed), or None without one."""
    now = _current.get()
    return None if now is None else max(0.0, now.end - clock())


def expired() -> bool:
    left = remaining()
    return left is not None and left <= 0


def command_remaining() -> float | None:
    """Seconds left of the command's own deadline (--timeout), ignoring phase and exchange limits."""
    now = _current.get()
    if now is None or now.command_end is None:
        return None
    return max(0.0, now.command_end - clock())


@contextmanager
def limit(
    seconds: float | None, what: str, *, command: bool = False, fresh: bool = False
) -> Iterator[Limit | None]:
    """Everything inside must end within `seconds` (None: no new limit) of the wall clock."""
    outer = None if fresh else _current.get()
    if seconds is None:
        token = _current.set(outer)
        try:
            yield outer
        finally:
            _current.reset(token)
        return
    end = clock() + max(0.0, seconds)
    command_end = outer.command_end if outer is not None else None
    given = outer.command_seconds if outer is not None else None
    if command and (command_end is None or end < command_end):
        command_end, given = end, seconds
    if outer is not None and outer.end <= end:
        chosen = Limit(outer.end, outer.what, outer.command, command_end, given)
    else:
        chosen = Limit(end, what, command, command_end, given)
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def passed(
    what_failed: str, *, cause: BaseException | None = None, provider: str | None = None
) -> GenctlError:
    """The error for a limit that ran out while `what_failed` (e.g. "waiting for the key-state lock")."""
    now = _current.get()
    what = now.what if now is not None else "its time limit"
    code = "generation.timeout" if now is not None and now.command else "network.timeout"
    err = error(
        code,
        f"Gave up {what_failed}: {what} ran out.",
        fix="Allow more time with --timeout, or check what holds things up (network, another genctl).",
        provider=provider,
        details={"deadline": what},
    )
    err.__cause__ = cause
    return err


# -- the socket layer -----------------------------------------------------------------------------------


def _capped(timeout: float | None, left: float | None, exc: type[Exception]) -> float | None:
    if left is None:
        return timeout
    if left <= 0:
        raise exc("the time limit ran out")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A socket stream whose every wait is capped at the time left."""

    def __init__(self, inner: httpcore.NetworkStream, left: Remaining) -> None:
        self._inner = inner
        self._left = left

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, self._left(), httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A slow reader on the other end: send in pieces so each wait is checked against the clock.
        view = memoryview(buffer)
        for start in range(0, max(len(view), 1), 1 << 16):
            piece = bytes(view[start : start + (1 << 16)])
            self._inner.write(piece, _capped(timeout, self._left(), httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, self._left(), httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, capped), self._left)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with every connect, read and write capped at `left()` (default: the
    innermost `limit` of the thread that sends)."""

    def __init__(self, inner: httpcore.NetworkBackend, left: Remaining = remaining) -> None:
        self._inner = inner
        self._left = left

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, self._left(), httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, capped, local_address, socket_options)
        return _Stream(stream, self._left)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, self._left(), httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, capped, socket_options), self._left)

    def sleep(self, seconds: float) -> None:
        left = self._left()
        self._inner.sleep(seconds if left is None else min(seconds, left))


def install(client: Any, left: Remaining = remaining) -> Any:
    """Route every connection `client` (an httpx.Client) opens through DeadlineBackend; returns it.

    httpx has no public hook for httpcore's network backend: this sets the pool's `_network_backend`
    (httpcore 1.0) on the client's transport and its proxy mounts before any connection exists. A client
    whose transport has no such pool (httpx.MockTransport in tests) is left as it is.
    """
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend, left)  # type: ignore[union-attr]
    return client


def fixed(end: float | None) -> Remaining:
    """A `left()` for a fixed end (clock() value): for clients used from threads a limit does not reach."""
    if end is None:
        return lambda: None
    return lambda: max(0.0, end - clock())


def sleep(seconds: float, sleeper: Callable[[float], None] = time.sleep) -> None:
    """Sleep, but never past the innermost limit."""
    left = remaining()
    sleeper(seconds if left is None else max(0.0, min(seconds, left)))


def carried(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, to run on a worker thread under the limits in force here (a new thread starts with none).

    Each call runs in its own copy of this context: one context cannot be entered by two threads at once.
    """
    context = copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(fn, *args, **kwargs)

    return run
