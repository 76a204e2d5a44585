"""The /_sandbox/ control API, so a sandbox in another process (`genctl sandbox serve`) can be driven too.

    POST   /_sandbox/faults      a Fault as JSON, or a list: {"kind": "rate_limited", "provider": "replicate"}
    GET    /_sandbox/faults      the faults, with how often each fired
    DELETE /_sandbox/faults      clear them
    GET    /_sandbox/requests    the request log (key fingerprints only); DELETE clears it
    GET    /_sandbox/cancels     the cancels the sandbox saw
    GET    /_sandbox/configure   the config; POST a JSON object of settings to change
    POST   /_sandbox/keys        {"provider", "key", "state", "account", "scope", "balance"}
    GET    /_sandbox/health      {"ok": true}
    GET    /_sandbox/process     {"pid", "cpu_seconds"}: the process the sandbox runs in, and the CPU it has
                                 used so far (benchmarks/batch.py reads a sandbox child's share of a run)
Control requests are neither recorded nor subject to faults.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable

from genctl.sandbox.faults import Fault, FaultSet
from genctl.sandbox.keys import fingerprint
from genctl.sandbox.state import Context
from genctl.sandbox.wire import Request, Response, json_response


def make_control(ctx: Context, faults: FaultSet) -> Callable[[Request], Response]:
    def control(req: Request) -> Response:
        try:
            return _route(req, ctx, faults)
        except (ValueError, TypeError, KeyError) as exc:  # bad JSON or bad settings from the caller
            return json_response(400, {"detail": f"{type(exc).__name__}: {exc}"})

    return control


def _route(req: Request, ctx: Context, faults: FaultSet) -> Response:
    path, method = req.sub.rstrip("/"), req.method
    if path == "/health":
        return json_response(200, {"ok": True})
    if path == "/process":
        return json_response(200, {"pid": os.getpid(), "cpu_seconds": time.process_time()})
    if path == "/faults":
        if method == "POST":
            data = req.json()
            added = [
                faults.add(Fault.from_json(item)) for item in (data if isinstance(data, list) else [data])
            ]
            return json_response(201, {"faults": [f.to_json() for f in added]})
        if method == "DELETE":
            faults.clear()
            return Response(204)
        return json_response(200, {"faults": [f.to_json() for f in faults.list()]})
    if path == "/requests":
        with ctx.store.lock:
            if method == "DELETE":
                ctx.store.records.clear()
                return Response(204)
            records = [dataclasses.asdict(r) for r in ctx.store.records]
        return json_response(200, {"requests": records})
    if path == "/cancels":
        with ctx.store.lock:
            cancels = [dataclasses.asdict(c) for c in ctx.store.cancels]
        return json_response(200, {"cancels": cancels})
    if path == "/configure":
        if method == "POST":
            changes = req.json()
            if not isinstance(changes, dict):
                raise ValueError("configure takes a JSON object of settings")
            ctx.config.update(**changes)
        return json_response(200, ctx.config.as_dict())
    if path == "/keys" and method == "POST":
        spec = json.loads(req.body)
        provider, key = spec.pop("provider"), spec.pop("key")
        info = ctx.keys.add(provider, key, **spec)
        return json_response(
            201, {"fingerprint": fingerprint(key), "state": info.state, "account": info.account}
        )
    return json_response(404, {"detail": "Not Found"})
