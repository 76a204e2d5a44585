"""An exclusive lock on a file several genctl processes share, waited for without outlasting --timeout."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genctl import deadline

POLL = 0.02  # seconds between tries: a holder keeps the lock for milliseconds (nothing slow happens inside)


class Busy(TimeoutError):
    """Another process held the lock as long as we could wait; `by_deadline`: --timeout ran out first."""

    def __init__(self, message: str, *, by_deadline: bool) -> None:
        super().__init__(message)
        self.by_deadline = by_deadline


if sys.platform == "win32":
    import msvcrt

    def acquire(fd: int, *, wait: float) -> None:
        """Lock `fd` exclusively (closing it releases the lock)."""
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
else:
    import fcntl

    def acquire(fd: int, *, wait: float) -> None:
        """Lock `fd` exclusively (closing it releases the lock, so does the holder's death).

        Polled, not blocking: a lock held by another process must not outlast --timeout (genctl.deadline),
        nor `wait` seconds without one. Either raises Busy.
        """
        give_up = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if deadline.expired():
                    raise Busy("the time limit ran out", by_deadline=True) from None
                if time.monotonic() >= give_up:
                    raise Busy(f"held for {wait:g} s", by_deadline=False) from None
                deadline.sleep(POLL)


_TURNS: dict[str, threading.Lock] = {}  # one per path, for the threads of this process
_TURNS_GUARD = threading.Lock()


@contextmanager
def turn(path: Path, *, wait: float | None = None) -> Iterator[None]:
    """This process's threads one at a time for `path`, queued and woken in turn (no polling). Raises Busy
    when `wait` (None: no limit of its own) or --timeout runs out first. Other processes are not excluded:
    `held` adds the flock for that."""
    with _TURNS_GUARD:
        lock = _TURNS.setdefault(os.path.abspath(path), threading.Lock())
    left = deadline.remaining()
    limits = [x for x in (wait, left) if x is not None]
    if not lock.acquire(timeout=max(0.0, min(limits)) if limits else -1):
        if wait is None or deadline.expired():  # without a wait of its own, only the deadline ends it
            raise Busy("the time limit ran out", by_deadline=True)
        raise Busy(f"held for {wait:g} s", by_deadline=False)
    try:
        yield
    finally:
        lock.release()


@contextmanager
def held(path: Path, *, wait: float) -> Iterator[None]:
    """`path` (created 0o600 if missing) locked exclusively for the block: first among this process's
    threads (`turn`: a batch's 32 workers polling the flock each slept ~3 × POLL per item, by strace), then
    among processes by `acquire`. Raises Busy when `wait` or --timeout runs out first, OSError when the
    lock file cannot be opened. `wait` bounds both steps together, not each."""
    give_up = time.monotonic() + wait
    with turn(path, wait=wait):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                acquire(fd, wait=max(0.0, give_up - time.monotonic()))
            except Busy as exc:  # name the whole wait, not what was left of it after the turn
                if exc.by_deadline:
                    raise
                raise Busy(f"held for {wait:g} s", by_deadline=False) from None
            yield
        finally:
            os.close(fd)  # releases the flock
