"""queue.fal.run (under /fal/queue): submit, status (poll and SSE stream), result, cancel (fal-api.md §1)."""

from __future__ import annotations

import time

from genctl.sandbox import fal, fal_stream
from genctl.sandbox.catalog import Json, fal_app_known
from genctl.sandbox.fal_errors import BILLABLE, CANCELLED_DETAIL, infra_outcome
from genctl.sandbox.keys import fingerprint
from genctl.sandbox.state import CancelRecord, Context, Job, iso
from genctl.sandbox.wire import Request, Response, bearer, fal_detail, json_response


def handle_queue(req: Request, ctx: Context) -> Response:
    parts = req.sub.strip("/").split("/")
    # Status, result and cancel URLs use owner/app only (fal-api.md §1.2, what fal_client builds), but fal's
    # generated per-endpoint spec (seedream_openapi.json) puts them under the full endpoint id; both are
    # served. UNVERIFIED: that the live queue answers the full-id form.
    at = next((i for i in range(2, len(parts) - 1) if parts[i] == "requests"), None)
    if at is not None and at > 2 and req.method != "POST":
        parts = [*parts[:2], *parts[at:]]
    if len(parts) >= 4 and parts[2] == "requests":
        tail = "/".join(parts[4:])
        routes = {
            ("GET", ""): _result,
            ("GET", "status"): _status,
            ("GET", "status/stream"): _stream,
            ("PUT", "cancel"): _cancel,
        }
        handler = routes.get((req.method, tail))
        if handler is None:
            known = tail in ("", "status", "status/stream", "cancel")
            return fal_detail(405 if known else 404, "Not Found")  # UNVERIFIED: these bodies
        return handler(req, ctx, "/".join(parts[:2]), parts[3])
    if req.method != "POST":
        return fal_detail(405, "Method Not Allowed")
    return _submit(req, ctx)


def urls(req: Request, job: Job) -> Json:
    base = f"{req.base_url}/fal/queue/{job.app}/requests/{job.id}"
    return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


def _submit(req: Request, ctx: Context) -> Response:
    info = fal.authenticate(req, ctx, billable=True)
    if isinstance(info, Response):
        return info
    target = fal.resolve_endpoint(req.sub)
    if isinstance(target, Response):
        return target  # only an unknown *app* is refused here; a wrong path is accepted (§2.2)
    timeout = fal.start_timeout(req)
    if isinstance(timeout, Response):
        return timeout
    inputs = fal.parse_input(req)
    if isinstance(inputs, Response):
        return inputs
    job = fal.new_job(req, ctx, info, target, inputs, req.sub.strip("/"))
    if timeout is not None:
        job.start_deadline = job.created + timeout
        job.on_start_timeout = infra_outcome("request_timeout", user_timeout=True)
    with ctx.store.lock:
        job.observe(time.time(), advance=False)
        position = job.position
    body = {"status": "IN_QUEUE", "request_id": job.id, **urls(req, job), "queue_position": position}
    return json_response(200, body, fal.rid(job.id))


def find(ctx: Context, app: str, request_id: str) -> Job | Response:
    if not fal_app_known(app):
        return fal_detail(404, f"Application '{app.split('/')[-1]}' not found")
    job = ctx.store.job(request_id)
    if job is None or job.provider != "fal" or job.app != app:
        return fal_detail(404, "Request not found")  # UNVERIFIED: this body (§8)
    return job


def _logs(job: Job) -> list[Json]:
    return [
        {"message": line.message, "level": "INFO", "source": "user", "timestamp": iso(line.time)}
        for line in job.logs
    ]


def wants_logs(req: Request) -> bool:
    return (req.arg("logs") or "").lower() in ("1", "true")


def status_body(req: Request, job: Job, *, advance: bool, with_logs: bool) -> tuple[int, Json]:
    """(HTTP status, body) of one status read: 202 while IN_QUEUE/IN_PROGRESS, 200 once COMPLETED (§1.4)."""
    phase = job.observe(time.time(), advance=advance)
    logs = _logs(job) if with_logs else None
    base: Json = {"request_id": job.id, **urls(req, job)}
    if phase == "queued":
        return 202, {"status": "IN_QUEUE", "queue_position": job.position, **base}
    if phase == "running":
        return 202, {"status": "IN_PROGRESS", "logs": logs, **base}
    body: Json = {"status": "COMPLETED", "logs": logs, **base}
    if phase == "done":
        elapsed = (job.completed or 0.0) - (job.started or job.created)
        inference = job.inference_time if job.inference_time is not None else max(elapsed, 0.0123)
        body["metrics"] = {"inference_time": round(inference, 4)}
        if job.outcome.error is not None:
            body["error"], body["error_type"] = job.outcome.error, job.outcome.error_type
    else:  # UNVERIFIED: what the status of a cancelled request says; shaped like the client_cancelled error
        body["metrics"] = {}
        body["error"], body["error_type"] = CANCELLED_DETAIL, "client_cancelled"
    return 200, body


def _authed_job(req: Request, ctx: Context, app: str, request_id: str) -> Job | Response:
    """The caller's job, or the answer that refuses them (a bad key, no such request): the preamble of
    every read of a queued request (status, stream, result)."""
    info = fal.authenticate(req, ctx, billable=False)
    if isinstance(info, Response):
        return info
    return find(ctx, app, request_id)


def _status(req: Request, ctx: Context, app: str, request_id: str) -> Response:
    job = _authed_job(req, ctx, app, request_id)
    if isinstance(job, Response):
        return job
    with ctx.store.lock:
        code, body = status_body(req, job, advance=True, with_logs=wants_logs(req))
    return json_response(code, body, fal.rid(job.id))


def _stream(req: Request, ctx: Context, app: str, request_id: str) -> Response:
    job = _authed_job(req, ctx, app, request_id)
    if isinstance(job, Response):
        return job
    return fal_stream.status_stream(req, ctx, job, status_body, wants_logs(req))


def _result(req: Request, ctx: Context, app: str, request_id: str) -> Response:
    job = _authed_job(req, ctx, app, request_id)
    if isinstance(job, Response):
        return job
    with ctx.store.lock:
        phase = job.observe(time.time(), advance=False)
    if phase in ("queued", "running"):
        return fal_detail(400, "Request is still in progress", fal.rid(job.id))  # UNVERIFIED: wording
    if phase != "done":
        # The runtime's RequestCancelledException: 499 (fal e2e test_app_cancellation, §2.2). UNVERIFIED: that
        # a request removed from the queue answers the same, and the X-Fal-Error-Type header on it.
        headers = {**fal.rid(job.id), "X-Fal-Error-Type": "client_cancelled", BILLABLE: "0"}
        return fal_detail(499, CANCELLED_DETAIL, headers)
    return fal.result_response(job)


def _cancel(req: Request, ctx: Context, app: str, request_id: str) -> Response:
    """PUT .../cancel in one of the two documented shapes (SandboxConfig.fal_cancel_shape, §1.1)."""
    info = fal.authenticate(req, ctx, billable=False)
    if isinstance(info, Response):
        return info
    if not fal_app_known(app):
        return fal_detail(404, f"Application '{app.split('/')[-1]}' not found")
    success_shape = ctx.config.fal_cancel_shape == "success"
    key_fp = fingerprint(bearer(req, ("Key",)) or "")
    job = ctx.store.job(request_id)
    if job is None or job.provider != "fal" or job.app != app:
        ctx.store.record_cancel(CancelRecord("fal", request_id, app, "not_found", time.time(), key_fp))
        if success_shape:
            return fal_detail(404, "Request not found")  # UNVERIFIED: the per-endpoint spec lists only 200
        return json_response(404, {"status": "NOT_FOUND"})
    with ctx.store.lock:
        phase = job.observe(time.time(), advance=False)
        if phase in ("queued", "running"):
            job.cancel(time.time())
    ctx.store.record_cancel(CancelRecord("fal", job.id, job.model, phase, time.time(), key_fp))
    cancelled = phase in ("queued", "running")
    if success_shape:  # seedream_openapi.json: 200 {"success": bool}; false = not cancelled (already done)
        return json_response(200, {"success": cancelled}, fal.rid(job.id))
    # UNVERIFIED: 202 / 400 (one third-party description); the docs give only the `status` values.
    if cancelled:
        return json_response(202, {"status": "CANCELLATION_REQUESTED"}, fal.rid(job.id))
    return json_response(400, {"status": "ALREADY_COMPLETED"}, fal.rid(job.id))
