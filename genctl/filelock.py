"""An exclusive lock on a file several genctl processes share, waited for without outlasting --timeout."""

from __future__ import annotations

import sys
import time

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
