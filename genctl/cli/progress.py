"""One job's progress on stderr, shared by `generate` and `result --wait`: a live status line on a TTY
(queue position, model logs, elapsed time), warnings and retries as lines of their own. Off a TTY (a CI
log) the same news as plain lines — each state once, queue positions at most every `QUEUE_EVERY` seconds,
every model log line — so a long job is never silent until it ends."""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import TYPE_CHECKING

from genctl.cli.output import out

if TYPE_CHECKING:
    from genctl.runner import Event


QUEUE_EVERY = 10.0  # seconds between two plain "In queue (position N)" lines off a TTY


class JobProgress:
    """Renders runner events as one live status line on a TTY (queue position, logs, elapsed time).

    The line is a renderable evaluated on every refresh, so the elapsed time ticks between events.
    """

    def __init__(self, state: str = "Checking the input") -> None:
        self._started = time.monotonic()
        self._state = state
        self._bytes = 0
        self._stack = ExitStack()
        self._said = ""  # the last state printed as a plain line
        self._queue_said = -QUEUE_EVERY

    def __enter__(self) -> JobProgress:
        self._stack.enter_context(out.status(self))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def __rich__(self) -> str:
        elapsed = time.monotonic() - self._started
        extra = f" · {self._bytes / 1e6:.1f} MB" if self._bytes else ""
        return f"{self._state} · {elapsed:.1f}s{extra}"

    def event(self, event: Event) -> None:
        self._on(event)
        if out.plain_progress and self._state != self._said and event.kind != "log":
            queued = self._state.startswith("In queue")
            if queued and self._said.startswith("In queue") and self.seconds - self._queue_said < QUEUE_EVERY:
                return
            if queued:
                self._queue_said = self.seconds
            self._said = self._state
            out.info(f"{self._state} · {self.seconds:.0f}s")

    def _on(self, event: Event) -> None:
        kind = event.kind
        if kind == "submitting":
            self._state = "Submitting"
        elif kind == "submitted":
            self._state = f"Submitted {event.job.request_id if event.job else ''}".rstrip()
        elif kind == "queued":
            position = event.queue_position
            where = "" if position is None else " (next)" if position == 0 else f" (position {position})"
            self._state = "In queue" + where
        elif kind == "running":
            self._state = "Running"
        elif kind == "log" and event.message and out.live:
            out.log_line(f"  {event.message}")
        elif kind == "log" and event.message and out.plain_progress:
            out.info(f"  {event.message}")
        elif kind == "retry" and event.message:
            out.info(event.message)
        elif kind in ("key", "history") and event.message:
            # A key needs attention, or the job goes unrecorded: logs must show it, even with --quiet.
            out.warn(event.message)
        elif kind == "completed":
            self._state = "Downloading"

    def downloaded(self, n: int) -> None:
        self._bytes += n

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started
