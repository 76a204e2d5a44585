"""fal's inference hosts: the queue (queue.fal.run, under /fal/queue) and sync runs (fal.run, /fal/run)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from genctl.sandbox import directives
from genctl.sandbox.catalog import FalModel, Json, fal_app_known, fal_model
from genctl.sandbox.keys import KeyInfo, fingerprint
from genctl.sandbox.outputs import MediaContext, fal_output
from genctl.sandbox.state import CancelRecord, Context, Job, Outcome, iso
from genctl.sandbox.validate import Issue, validate
from genctl.sandbox.wire import Request, Response, bearer, fal_detail, json_response

FORMAT_MESSAGE = "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
LOCKED_MESSAGES = {
    "locked_balance": (
        "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
    ),
    "locked_admin": "User is locked. Reason: Admin lock. Please contact support@fal.ai",
    "locked_topup": "User is locked. Reason: TOP_UP.",
}
# msg text is fal's wording as best known offline (unverified); the type and shape follow fal's errors page.
CONTENT_POLICY_MESSAGE = (
    "The content could not be processed because it contained material flagged by a content checker."
)
_PYDANTIC_V1_TYPES = {
    "integer": ("value is not a valid integer", "type_error.integer"),
    "number": ("value is not a valid float", "type_error.float"),
    "string": ("str type expected", "type_error.str"),
    "boolean": ("value could not be parsed to a boolean", "type_error.bool"),
    "object": ("value is not a valid dict", "type_error.dict"),
    "array": ("value is not a valid list", "type_error.list"),
}


def authenticate(req: Request, ctx: Context, *, billable: bool) -> KeyInfo | Response:
    """Key auth (fal-api.md §2.1-2.2). Locked accounts may still read status; billable calls get 403."""
    raw = bearer(req, ("Key",))
    if raw is None:
        return fal_detail(401, "Unauthorized")  # the missing-header body is unverified (§2.2)
    info = ctx.keys.lookup("fal", raw)
    if info.state == "bad_format":
        return fal_detail(401, FORMAT_MESSAGE)
    if info.state == "unknown":
        return fal_detail(401, "No user found for Key ID and Secret")
    if billable and info.state in LOCKED_MESSAGES:
        return fal_detail(403, LOCKED_MESSAGES[info.state])
    return info


def resolve_endpoint(endpoint_id: str) -> FalModel | Response:
    parts = endpoint_id.strip("/").split("/")
    app_name = parts[1] if len(parts) > 1 else parts[0]
    if len(parts) < 2 or not fal_app_known("/".join(parts[:2])):
        return fal_detail(404, f"Application '{app_name}' not found")
    model = fal_model("/".join(parts))
    if model is None:
        return fal_detail(404, "Not Found")  # valid app, unknown subpath: body unverified (§2.2)
    return model


def _typed_issue(issue: Issue, loc: list[Any]) -> Json:
    """fal's typed error form (fal-api.md §2.2): loc/msg/type/url, plus ctx and input where they apply."""
    expected = issue.expected
    ctx: Json | None = None
    if issue.kind == "missing":
        kind, msg = "missing", "Field required"
    elif issue.kind == "type":
        kind, msg = f"{expected}_type", f"Input should be a valid {expected}"
    elif issue.kind == "minimum":
        kind, msg, ctx = (
            "greater_than_equal",
            f"Input should be greater than or equal to {expected}",
            {"ge": expected},
        )
    elif issue.kind == "maximum":
        kind, msg, ctx = (
            "less_than_equal",
            f"Input should be less than or equal to {expected}",
            {"le": expected},
        )
    else:
        kind, ctx = "one_of", {"expected": expected}
        msg = "Input should be " + " or ".join(repr(v) for v in expected or [])
    out: Json = {"loc": loc, "msg": msg, "type": kind, "url": f"https://docs.fal.ai/errors#{kind}"}
    if ctx is not None:
        out["ctx"] = ctx
    if issue.kind != "missing":
        out["input"] = issue.value
    return out


def _issue(issue: Issue, typed: bool) -> Json:
    loc = ["body", *issue.loc]
    if typed:
        return _typed_issue(issue, loc)
    if issue.kind == "missing":
        return {"loc": loc, "msg": "field required", "type": "value_error.missing"}
    if issue.kind == "type":
        msg, kind = _PYDANTIC_V1_TYPES.get(str(issue.expected), ("invalid type", "type_error"))
        return {"loc": loc, "msg": msg, "type": kind}
    if issue.kind == "enum":
        allowed = ", ".join(repr(v) for v in issue.expected or [])
        return {
            "loc": loc,
            "msg": f"value is not a valid enumeration member; permitted: {allowed}",
            "type": "type_error.enum",
            "ctx": {"enum_values": issue.expected},
        }
    word, short = ("greater", "ge") if issue.kind == "minimum" else ("less", "le")
    return {
        "loc": loc,
        "msg": f"ensure this value is {word} than or equal to {issue.expected}",
        "type": f"value_error.number.not_{short}",
        "ctx": {"limit_value": issue.expected},
    }


def model_outcome(model: FalModel, inputs: Json, job_id: str, media: MediaContext) -> Outcome:
    """What the model answers for this input: 422 on bad input, content policy, a crash, or the output."""
    issues = validate(inputs, model.input_schema, model.schemas)
    retry_no = {"X-Fal-Retryable": "false"}
    if issues:
        errors = {"detail": [_issue(i, model.typed_errors) for i in issues]}
        return Outcome(output=errors, status=422, error="Unprocessable Entity", headers=retry_no)
    wanted = directives.parse(inputs)
    if wanted.nsfw:
        field = "prompt" if "prompt" in inputs else next(iter(inputs), "prompt")
        detail = {
            "loc": ["body", field],
            "msg": CONTENT_POLICY_MESSAGE,
            "type": "content_policy_violation",
            "url": "https://docs.fal.ai/errors#content_policy_violation",
            "input": inputs.get(field),
        }
        return Outcome(
            output={"detail": [detail]}, status=422, error="Unprocessable Entity", headers=retry_no
        )
    if wanted.fail or wanted.aborted:
        # A runner crash as fal's request-error docs describe it; the COMPLETED `error` text is unverified.
        return Outcome(
            output={"detail": "Internal Server Error", "error_type": "runner_server_error"},
            status=500,
            error="Internal Server Error",
            error_type="runner_server_error",
            headers={"X-Fal-Error-Type": "runner_server_error"},
        )
    return Outcome(output=fal_output(model, inputs, job_id, media))


def _parse_input(req: Request) -> Json | Response:
    try:
        data = req.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return fal_detail(422, [{"loc": ["body"], "msg": str(exc), "type": "value_error.jsondecode"}])
    if not isinstance(data, dict):
        return fal_detail(
            422, [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
        )
    return data


def _new_job(req: Request, ctx: Context, info: KeyInfo, model: FalModel, inputs: Json) -> Job:
    wanted = directives.parse(inputs)
    cfg = ctx.config
    job_id = str(uuid.uuid4())
    media = MediaContext(
        ctx.store,
        req.base_url,
        "fal",
        # sync_mode asks fal to return files inline as data: URIs instead of uploading them.
        data_uri=cfg.data_uri_outputs or wanted.data_uri or inputs.get("sync_mode") is True,
        big=wanted.big if wanted.big is not None else cfg.big_output_bytes,
    )
    raw = bearer(req, ("Key",)) or ""
    return ctx.store.add_job(
        Job(
            id=job_id,
            provider="fal",
            model=model.endpoint_id,
            input=inputs,
            account=info.account,
            key_fp=fingerprint(raw),
            outcome=model_outcome(model, inputs, job_id, media),
            queue_polls=wanted.queue if wanted.queue is not None else cfg.queue_polls,
            progress_polls=wanted.progress if wanted.progress is not None else cfg.progress_polls,
            latency=wanted.latency if wanted.latency is not None else cfg.model_latency,
            never_finish=cfg.never_finish or wanted.hang,
        )
    )


def _urls(req: Request, job: Job) -> Json:
    base = f"{req.base_url}/fal/queue/{job.app}/requests/{job.id}"
    return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


def _rid(job_id: str) -> dict[str, str]:
    # fal_client treats 5xx responses without x-fal-request-id as nginx ingress errors.
    return {"x-fal-request-id": job_id}


# --- queue.fal.run --------------------------------------------------------------------------------------


def handle_queue(req: Request, ctx: Context) -> Response:
    parts = req.sub.strip("/").split("/")
    if len(parts) >= 4 and parts[2] == "requests":
        tail = "/".join(parts[4:])
        routes = {("GET", ""): _result, ("GET", "status"): _status, ("PUT", "cancel"): _cancel}
        handler = routes.get((req.method, tail))
        if handler is None:
            return fal_detail(405 if tail in ("", "status", "cancel") else 404, "Not Found")
        return handler(req, ctx, "/".join(parts[:2]), parts[3])
    if req.method != "POST":
        return fal_detail(405, "Method Not Allowed")
    return _submit(req, ctx)


def _submit(req: Request, ctx: Context) -> Response:
    info = authenticate(req, ctx, billable=True)
    if isinstance(info, Response):
        return info
    model = resolve_endpoint(req.sub)
    if isinstance(model, Response):
        return model
    inputs = _parse_input(req)
    if isinstance(inputs, Response):
        return inputs
    job = _new_job(req, ctx, info, model, inputs)
    with ctx.store.lock:
        job.observe(time.time(), advance=False)
        position = job.position
    body = {"status": "IN_QUEUE", "request_id": job.id, **_urls(req, job), "queue_position": position}
    return json_response(200, body, _rid(job.id))


def _find(req: Request, ctx: Context, app: str, request_id: str) -> Job | Response:
    if not fal_app_known(app):
        return fal_detail(404, f"Application '{app.split('/')[-1]}' not found")
    job = ctx.store.job(request_id)
    if job is None or job.provider != "fal" or job.app != app:
        return fal_detail(404, "Request not found")  # body unverified (§8)
    return job


def _logs(job: Job) -> list[Json]:
    return [
        {"message": line.message, "level": "INFO", "source": "user", "timestamp": iso(line.time)}
        for line in job.logs
    ]


def _status(req: Request, ctx: Context, app: str, request_id: str) -> Response:
    info = authenticate(req, ctx, billable=False)
    if isinstance(info, Response):
        return info
    job = _find(req, ctx, app, request_id)
    if isinstance(job, Response):
        return job
    with_logs = (req.arg("logs") or "").lower() in ("1", "true")
    with ctx.store.lock:
        phase = job.observe(time.time(), advance=True)
        logs = _logs(job) if with_logs else None
        base: Json = {"request_id": job.id, **_urls(req, job)}
        if phase == "queued":
            return json_response(
                202, {"status": "IN_QUEUE", "queue_position": job.position, **base}, _rid(job.id)
            )
        if phase == "running":
            return json_response(202, {"status": "IN_PROGRESS", "logs": logs, **base}, _rid(job.id))
        body: Json = {"status": "COMPLETED", "logs": logs, **base}
        if phase == "done":
            elapsed = (job.completed or 0.0) - (job.started or job.created)
            body["metrics"] = {"inference_time": round(max(elapsed, 0.0123), 4)}
            if job.outcome.status != 200:
                body["error"], body["error_type"] = job.outcome.error, job.outcome.error_type
        else:  # cancelled: shape follows fal's client_cancelled request error; unverified
            body["metrics"] = {}
            body["error"], body["error_type"] = "Request was cancelled by the client", "client_cancelled"
        return json_response(200, body, _rid(job.id))


def _result(req: Request, ctx: Context, app: str, request_id: str) -> Response:
    info = authenticate(req, ctx, billable=False)
    if isinstance(info, Response):
        return info
    job = _find(req, ctx, app, request_id)
    if isinstance(job, Response):
        return job
    with ctx.store.lock:
        phase = job.observe(time.time(), advance=False)
    if phase in ("queued", "running"):
        return fal_detail(400, "Request is still in progress", _rid(job.id))  # unverified wording
    if phase != "done":
        headers = {**_rid(job.id), "X-Fal-Error-Type": "client_cancelled"}
        return fal_detail(499, "Request was cancelled by the client", headers, error_type="client_cancelled")
    return json_response(job.outcome.status, job.outcome.output, {**_rid(job.id), **job.outcome.headers})


def _cancel(req: Request, ctx: Context, app: str, request_id: str) -> Response:
    """PUT .../cancel: 202 CANCELLATION_REQUESTED, 400 ALREADY_COMPLETED, 404 NOT_FOUND (§1.1)."""
    info = authenticate(req, ctx, billable=False)
    if isinstance(info, Response):
        return info
    if not fal_app_known(app):
        return fal_detail(404, f"Application '{app.split('/')[-1]}' not found")
    key_fp = fingerprint(bearer(req, ("Key",)) or "")
    job = ctx.store.job(request_id)
    if job is None or job.provider != "fal" or job.app != app:
        ctx.store.record_cancel(CancelRecord("fal", request_id, app, "not_found", time.time(), key_fp))
        return json_response(404, {"status": "NOT_FOUND"})
    with ctx.store.lock:
        phase = job.observe(time.time(), advance=False)
        if phase in ("queued", "running"):
            job.cancel(time.time())
    ctx.store.record_cancel(CancelRecord("fal", job.id, job.model, phase, time.time(), key_fp))
    if phase in ("queued", "running"):
        return json_response(202, {"status": "CANCELLATION_REQUESTED"}, _rid(job.id))
    return json_response(400, {"status": "ALREADY_COMPLETED"}, _rid(job.id))


# --- fal.run --------------------------------------------------------------------------------------------


def handle_run(req: Request, ctx: Context) -> Response:
    """Synchronous run: the model output is the response (§1.5); no queue, no server-side retries."""
    if req.method != "POST":
        return fal_detail(405, "Method Not Allowed")
    info = authenticate(req, ctx, billable=True)
    if isinstance(info, Response):
        return info
    model = resolve_endpoint(req.sub)
    if isinstance(model, Response):
        return model
    inputs = _parse_input(req)
    if isinstance(inputs, Response):
        return inputs
    job = _new_job(req, ctx, info, model, inputs)
    if job.never_finish:
        req.wait(ctx.config.max_block)
        headers = {**_rid(job.id), "X-Fal-Error-Type": "request_timeout"}
        return fal_detail(504, "Request timed out", headers, error_type="request_timeout")
    req.wait(job.created + job.latency - time.time())
    with ctx.store.lock:
        job.final, job.started, job.completed = "done", job.created, time.time()
    return json_response(job.outcome.status, job.outcome.output, {**_rid(job.id), **job.outcome.headers})
