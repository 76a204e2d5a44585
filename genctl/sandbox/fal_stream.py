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
            now = time.monotonic()
            if body != last:
                yield event(body)
                last, last_write = body, now
                if body["status"] == "COMPLETED":
                    return  # the server closes the stream after COMPLETED
            elif now - last_write >= ping_every:
                yield PING
                last_write = now
            req.stop.wait(tick)

    headers = {  # UNVERIFIED: Cache-Control (any SSE server's usual header)
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "x-fal-request-id": job.id,
    }
    return Response(200, headers, stream=events(), chunked=True)
