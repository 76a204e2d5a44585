"""fal's queue status stream: `GET .../requests/{id}/status/stream` as Server-Sent Events.

fal's docs (https://fal.ai/docs/inference-api/queue/status-stream, fal-api.md §1.1): each event is a `data:`
line holding a status object shaped like the polled status; the server closes the stream after COMPLETED and
sends a keep-alive comment every 15 s; `?logs=1` is honoured. The JS client's `streamStatus` reads it; the
Python fal-client 1.0.3 polls instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from genctl.sandbox.catalog import Json
from genctl.sandbox.state import Context, Job
from genctl.sandbox.wire import Request, Response

StatusBody = Callable[..., tuple[int, Json]]
PING = b": ping\n\n"  # UNVERIFIED: the comment's text; the docs say only "a comment line" every 15 s
SETTLED_WAKE = 0.1  # seconds between re-reads once only the clock can change a job (a cancel is seen by then)


def event(body: Json) -> bytes:
    return f"data: {json.dumps(body)}\n\n".encode()


def status_stream(req: Request, ctx: Context, job: Job, status_body: StatusBody, with_logs: bool) -> Response:
    """An open-ended SSE response: one event per change of the status object, pings while nothing changes.

    Each re-read spends a status read, exactly like a poll, so a job walks its queue and progress phases at
    the stream's pace (`SandboxConfig.status_stream_tick`). UNVERIFIED: that fal sends an event only when the
    status object changes (rather than on a timer).
    """
    tick, ping_every = ctx.config.status_stream_tick, ctx.config.status_stream_ping

    def events() -> Iterator[bytes]:
        last: Json | None = None
        last_write = time.monotonic()
        while not req.stop.is_set():
            with ctx.store.lock:
                _, body = status_body(req, job, advance=True, with_logs=with_logs)
                wait = _next_read(job, tick)
            now = time.monotonic()
            if body != last:
                yield event(body)
                last, last_write = body, now
                if body["status"] == "COMPLETED":
                    return  # the server closes the stream after COMPLETED
            elif now - last_write >= ping_every:
                yield PING
                last_write = now
            req.stop.wait(min(wait, max(0.0, last_write + ping_every - now)))

    headers = {  # UNVERIFIED: Cache-Control (any SSE server's usual header)
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "x-fal-request-id": job.id,
    }
    return Response(200, headers, stream=events(), chunked=True)


def _next_read(job: Job, tick: float) -> float:
    """Seconds until the stream reads the job again: every `tick` while reads walk its queue and progress
    phases (and while a deadline could end it), else when it is due to finish — at most SETTLED_WAKE away,
    so a cancel is still seen. 32 open streams re-read every 20 ms would spend a core of a small machine."""
    settle = job.seconds_to_done(time.time())
    if settle is None or job.deadline is not None or job.start_deadline is not None:
        return tick
    return max(0.001, min(settle, SETTLED_WAKE))
