"""A faithful local emulator of the fal.ai and Replicate HTTP APIs (stdlib only), for tests and benchmarks.

One ThreadingHTTPServer on 127.0.0.1 serves every host under a path prefix:

    /fal/queue/...    queue.fal.run      submit, status (?logs=1|true), result, cancel
    /fal/run/...      fal.run            synchronous run
    /fal/api/v1/...   api.fal.ai/v1      models (search, pagination, expand=openapi-3.0), pricing, billing
    /fal/rest/...     rest.fal.ai        storage: CDN token, upload/initiate
    /fal/cdn/...      v3.fal.media       uploads (incl. multipart) and file downloads
    /media/...        generated outputs  (fal files and replicate.delivery), streamed with Content-Length
    /replicate/...    api.replicate.com  (/replicate/v1/...; pass base_url=<url>/replicate to the SDK)
    /_sandbox/...     control API        faults, configure, requests, cancels, keys

Jobs are deterministic: by default a job completes on its first status read (Replicate `Prefer: wait` returns
it complete). See `SandboxConfig` for the knobs, `genctl.sandbox.directives` for per-job `[sandbox:...]`
switches (hang, fail, nsfw, big=N...), `genctl.sandbox.keys` for the special keys, and `Fault` for faults.
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
