"""fal's inference hosts: what a model answers, job creation, and sync runs (fal.run, under /fal/run).

The queue (queue.fal.run, /fal/queue) is in `fal_queue`; error bodies and billable units in `fal_errors`.
"""

from __future__ import annotations

import json
import time
import uuid

from genctl.sandbox import directives
from genctl.sandbox.catalog import FalModel, Json, fal_app_known, fal_model
from genctl.sandbox.fal_errors import (
    BILLABLE,
    CONTENT_POLICY_MESSAGE,
    INFRA,
    billable_units,
    infra_outcome,
    issue_json,
    path_not_found,
    units_header,
)
from genctl.sandbox.keys import KeyInfo, fingerprint
from genctl.sandbox.outputs import MediaContext, fal_output
from genctl.sandbox.state import Context, Job, Outcome
from genctl.sandbox.validate import validate
from genctl.sandbox.wire import Request, Response, bearer, fal_detail, json_response

FORMAT_MESSAGE = "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
LOCKED_MESSAGES = {
    "locked_balance": (
        "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
    ),
    "locked_admin": "User is locked. Reason: Admin lock. Please contact support@fal.ai",
    "locked_topup": "User is locked. Reason: TOP_UP.",
}
PATH_MISS_SECONDS = 0.05  # a wrong path "completes" in ~0.05 s of inference time (fal-api.md §2.2)


def authenticate(req: Request, ctx: Context, *, billable: bool) -> KeyInfo | Response:
    """Key auth (fal-api.md §2.1-2.2). Locked accounts may still read status; billable calls get 403."""
    raw = bearer(req, ("Key",))
    if raw is None:
        return fal_detail(401, "Unauthorized")  # UNVERIFIED: the missing-header body (§2.2)
    info = ctx.keys.lookup("fal", raw)
    if info.state == "bad_format":
        return fal_detail(401, FORMAT_MESSAGE)
    if info.state == "unknown":
        return fal_detail(401, "No user found for Key ID and Secret")
    if billable and info.state in LOCKED_MESSAGES:
        return fal_detail(403, LOCKED_MESSAGES[info.state])
    return info


def resolve_endpoint(endpoint_id: str) -> FalModel | str | Response:
    """The model; or, for a known app and a path it does not serve, that path (e.g. "/deb"); or a 404.

    An unknown app is rejected by the gateway at once; an unknown path inside a known app reaches the app,
    whose runtime answers 404 "Path /x not found" (fal-api.md §2.2, corrected in turn 2).
    """
    parts = endpoint_id.strip("/").split("/")
    app_name = parts[1] if len(parts) > 1 else parts[0]
    if len(parts) < 2 or not fal_app_known("/".join(parts[:2])):
        return fal_detail(404, f"Application '{app_name}' not found")
    model = fal_model("/".join(parts))
    if model is None:
        # UNVERIFIED: the bare app (no path at all) is taken as path "/", which the runtime 404s alike.
        return "/" + "/".join(parts[2:])
    return model


def model_outcome(model: FalModel, inputs: Json, job_id: str, media: MediaContext) -> Outcome:
    """What the model answers for this input: 422 on bad input, content policy, a crash, or the output."""
    issues = validate(inputs, model.input_schema, model.schemas)
    # The runtime sets billable units to 0 on its 422 validation errors (§1.7); UNVERIFIED for content policy.
    no_charge = {"X-Fal-Retryable": "false", BILLABLE: "0"}
    if issues:
        errors = {"detail": [issue_json(i, model.typed_errors) for i in issues]}
        return Outcome(output=errors, status=422, error="Unprocessable Entity", headers=no_charge)
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
            output={"detail": [detail]}, status=422, error="Unprocessable Entity", headers=no_charge
        )
    if wanted.infra in INFRA:
        return infra_outcome(wanted.infra)
    if wanted.fail or wanted.aborted:
        # A runner crash as fal's request-error docs describe it; UNVERIFIED: the COMPLETED `error` text.
        return infra_outcome("runner_server_error")
    output = fal_output(model, inputs, job_id, media)
    units = billable_units(model, inputs, output)
    return Outcome(output=output, headers={BILLABLE: units_header(units)}, billable_units=units)


def parse_input(req: Request) -> Json | Response:
    try:
        data = req.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return fal_detail(422, [{"loc": ["body"], "msg": str(exc), "type": "value_error.jsondecode"}])
    if not isinstance(data, dict):
        return fal_detail(
            422, [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
        )
    return data


def start_timeout(req: Request) -> float | Response | None:
    """X-Fal-Request-Timeout (seconds to *start*, §1.7); a malformed one is a 400 `bad_request`."""
    raw = req.header("x-fal-request-timeout")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        # UNVERIFIED: the detail text; the error type and status are the request-errors page's bad_request.
        detail = f"Invalid X-Fal-Request-Timeout header: {raw!r}"
        return fal_detail(400, detail, {"X-Fal-Error-Type": "bad_request"}, error_type="bad_request")
    return seconds


def new_job(
    req: Request, ctx: Context, info: KeyInfo, target: FalModel | str, inputs: Json, endpoint_id: str
) -> Job:
    """A job for a model, or for a wrong path in a known app (which "completes" at once with the 404)."""
    wanted = directives.parse(inputs)
    cfg = ctx.config
    job_id = str(uuid.uuid4())
    raw = bearer(req, ("Key",)) or ""
    job = Job(
        id=job_id,
        provider="fal",
        model=endpoint_id,
        input=inputs,
        account=info.account,
        key_fp=fingerprint(raw),
        outcome=Outcome(),
    )
    if isinstance(target, str):
        # The runtime answers at once: the job is COMPLETED before anyone asks (no queue, no progress).
        job.outcome, job.inference_time = path_not_found(target), PATH_MISS_SECONDS
        job.final, job.started, job.completed = "done", job.created, job.created + PATH_MISS_SECONDS
        return ctx.store.add_job(job)
    media = MediaContext(
        ctx.store,
        req.base_url,
        "fal",
        # sync_mode asks fal to return files inline as data: URIs instead of uploading them.
        data_uri=cfg.data_uri_outputs or wanted.data_uri or inputs.get("sync_mode") is True,
        big=wanted.big if wanted.big is not None else cfg.big_output_bytes,
    )
    job.model = target.endpoint_id
    job.outcome = model_outcome(target, inputs, job_id, media)
    job.queue_polls = wanted.queue if wanted.queue is not None else cfg.queue_polls
    job.progress_polls = wanted.progress if wanted.progress is not None else cfg.progress_polls
    job.latency = wanted.latency if wanted.latency is not None else cfg.model_latency
    job.never_finish = cfg.never_finish or wanted.hang
    return ctx.store.add_job(job)


def rid(job_id: str) -> dict[str, str]:
    # fal_client treats 5xx responses without x-fal-request-id as nginx ingress errors.
    return {"x-fal-request-id": job_id}


def result_response(job: Job) -> Response:
    """The runtime's answer for a finished job: its status, body and headers (billable units included)."""
    return json_response(job.outcome.status, job.outcome.output, {**rid(job.id), **job.outcome.headers})


# --- fal.run --------------------------------------------------------------------------------------------


def handle_run(req: Request, ctx: Context) -> Response:
    """Synchronous run: the model output is the response (§1.5); no queue, no server-side retries."""
    if req.method != "POST":
        return fal_detail(405, "Method Not Allowed")
    info = authenticate(req, ctx, billable=True)
    if isinstance(info, Response):
        return info
    target = resolve_endpoint(req.sub)
    if isinstance(target, Response):
        return target
    timeout = start_timeout(req)
    if isinstance(timeout, Response):
        return timeout
    inputs = parse_input(req)
    if isinstance(inputs, Response):
        return inputs
    job = new_job(req, ctx, info, target, inputs, req.sub.strip("/"))
    if timeout is not None and job.queue_polls > 0:
        # No runner free (the job would queue): the caller's start deadline expires first (§1.7).
        # UNVERIFIED: that fal.run applies X-Fal-Request-Timeout this way; the docs only describe the queue.
        req.wait(min(timeout, ctx.config.max_block))
        job.outcome = infra_outcome("request_timeout", user_timeout=True)
    elif job.never_finish:
        req.wait(ctx.config.max_block)
        job.outcome = infra_outcome("request_timeout")
    else:
        req.wait(job.created + job.latency - time.time())
    with ctx.store.lock:
        job.final, job.started, job.completed = "done", job.created, time.time()
    return result_response(job)
