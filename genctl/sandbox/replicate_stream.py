"""A prediction's `urls.stream`: Server-Sent Events with `output`, `logs`, `error` and `done` events.

The event names and the client's request (`Accept: text/event-stream`) are replicate-python's `stream.py`
(replicate-api.md §1.7); the recorded 2024 predictions carry a `urls.stream` on every model, LLM or not.
Every event carries an `id:` line: replicate-python's decoder drops events without one, so the real stream
must send them. UNVERIFIED: the exact payloads (no recording holds a stream): the sandbox waits for the
prediction, then sends each output item (strings as they are, anything else as JSON), the error if it
failed, and `event: done` with `data: {}`. The real stream is on another host (streaming-api...).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from genctl.sandbox.state import TERMINAL, Context, Job
from genctl.sandbox.wire import Request, Response


def _sse(event: str, data: str, number: int) -> bytes:
    lines = "".join(f"data: {line}\n" for line in (data.split("\n") if data else [""]))
    return f"event: {event}\nid: {number}\n{lines}\n".encode()


def _item(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def stream(req: Request, ctx: Context, job: Job) -> Response:
    tick = ctx.config.status_stream_tick

    def events() -> Iterator[bytes]:
        while not req.stop.is_set():
            with ctx.store.lock:
                phase = job.observe(time.time(), advance=True)
            if phase in TERMINAL:
                break
            req.stop.wait(tick)
        else:
            return
        outcome, sent = job.outcome, 0
        if phase == "done" and outcome.replicate_status == "succeeded" and not outcome.data_removed:
            items = outcome.output if isinstance(outcome.output, list) else [outcome.output]
            for item in items:
                sent += 1
                yield _sse("output", _item(item), sent)
        if phase == "done" and outcome.replicate_status == "failed":
            sent += 1
            yield _sse("error", outcome.error or "", sent)
        yield _sse("done", "{}", sent + 1)

    headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    return Response(200, headers, stream=events(), chunked=True)
