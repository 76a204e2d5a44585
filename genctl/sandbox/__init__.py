"""A faithful local emulator of the fal.ai and Replicate HTTP APIs (stdlib only), for tests and benchmarks.

One ThreadingHTTPServer on 127.0.0.1 serves every host under a path prefix:

    /fal/queue/...    queue.fal.run      submit, status (?logs=1|true), status/stream (SSE), result, cancel
    /fal/run/...      fal.run            synchronous run
    /fal/api/v1/...   api.fal.ai/v1      models (search, pagination, expand=openapi-3.0), pricing (+estimate),
                                         billing, usage, billing-events, requests by-endpoint and search
    /fal/rest/...     rest.fal.ai        storage: CDN token, upload/initiate
    /fal/cdn/...      v3.fal.media       uploads (incl. multipart) and file downloads
    /media/...        generated outputs  (fal files and replicate.delivery), streamed with Content-Length
    /replicate/...    api.replicate.com  (/replicate/v1/...; pass base_url=<url>/replicate to the SDK),
                                         plus each prediction's urls.stream (SSE) under /replicate/v1/streams/
    /_sandbox/...     control API        faults, configure, requests, cancels, keys

Jobs are deterministic: by default a job completes on its first status read (Replicate `Prefer: wait` returns
it complete). See `SandboxConfig` for the knobs, `genctl.sandbox.directives` for per-job `[sandbox:...]`
switches (hang, fail, nsfw, infra=<type>, early_output, big=N...), `genctl.sandbox.keys` for the special keys,
and `Fault` for faults (HTTP errors, drops, and the hostile-server actions in `genctl.sandbox.hostile`).

Wire behaviour follows the primary artifacts (fal's runtime and docs, the recorded Replicate exchanges, both
official OpenAPI specs); where none decides, the code says `UNVERIFIED:` and names the guess.
"""

from __future__ import annotations

from genctl.sandbox.emulator import Sandbox, serve_forever
from genctl.sandbox.faults import Fault
from genctl.sandbox.keys import KeyInfo, fingerprint
from genctl.sandbox.state import CancelRecord, Job, RequestRecord, SandboxConfig

__all__ = [
    "CancelRecord",
    "Fault",
    "Job",
    "KeyInfo",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
    "fingerprint",
    "serve_forever",
]
