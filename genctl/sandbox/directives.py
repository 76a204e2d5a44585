"""`[sandbox:...]` directives: per-job behaviour switches written inside any string input (e.g. the prompt).

They let a test (or a person at a shell) steer one job through the real CLI without touching the sandbox:

    [sandbox:hang]            the job never finishes (Ctrl-C and timeout tests)
    [sandbox:fail]            the model fails (fal: COMPLETED + error, result 500; Replicate: status failed)
    [sandbox:nsfw]            content policy rejection (fal 422 content_policy_violation; Replicate failed)
    [sandbox:aborted]         Replicate: terminal status `aborted` (fal: treated like fail)
    [sandbox:canceled]        Replicate: terminal status `canceled` without anyone cancelling
    [sandbox:data_removed]    Replicate: succeeded, but `data_removed: true` and `output: null`
    [sandbox:big=52428800]    every output file is exactly that many bytes, streamed 1 MiB at a time
    [sandbox:data_uri]        outputs are data: URIs instead of URLs
    [sandbox:latency=2.5]     this job is not done before submit + 2.5 s (wall clock)
    [sandbox:queue=3]         the submit answers queue_position 3, then 3 status reads IN_QUEUE: 2, 1, 0
    [sandbox:progress=4]      ... then 4 reads IN_PROGRESS, each adding a "step k/4" log line
    [sandbox:infra=startup_timeout]  fal: the job ends in that infrastructure error (fal_errors.INFRA types)
    [sandbox:early_output]    Replicate `Prefer: wait`: answer `processing` with the output already filled
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_DIRECTIVE = re.compile(r"\[sandbox:([a-z_]+)(?:=([0-9.]+|[a-z_]+))?\]")


@dataclass(frozen=True)
class Directives:
    hang: bool = False
    fail: bool = False
    nsfw: bool = False
    aborted: bool = False
    canceled: bool = False
    data_removed: bool = False
    data_uri: bool = False
    big: int | None = None
    latency: float | None = None
    queue: int | None = None
    progress: int | None = None
    infra: str | None = None
    early_output: bool = False


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def parse(inputs: Any) -> Directives:
    found: dict[str, Any] = {}
    for text in _strings(inputs):
        for name, arg in _DIRECTIVE.findall(text):
            numeric = bool(re.fullmatch(r"[0-9]+(\.[0-9]*)?", arg))
            if name in ("big", "queue", "progress") and numeric:
                found[name] = int(float(arg))
            elif name == "latency" and numeric:
                found[name] = float(arg)
            elif name == "infra" and arg and not numeric:
                found[name] = arg
            elif name in Directives.__dataclass_fields__ and not arg:
                found[name] = True
    return Directives(**found)
