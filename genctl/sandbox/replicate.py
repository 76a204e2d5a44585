"""Replicate predictions (api.replicate.com/v1, under /replicate/v1): create, get, cancel, list.

Shapes and error bodies follow replicate-api.md §1-2 and the OpenAPI spec beside it.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

from genctl.sandbox import directives
from genctl.sandbox.catalog import Json, ReplicateModel, replicate_model, replicate_version
from genctl.sandbox.keys import KeyInfo, fingerprint
from genctl.sandbox.outputs import MediaContext, replicate_output
from genctl.sandbox.state import TERMINAL, CancelRecord, Context, Job, Outcome, Phase, iso, replicate_id
from genctl.sandbox.validate import Issue, validate
from genctl.sandbox.wire import Request, Response, bearer, json_response, problem

NOT_FOUND = "The requested resource could not be found."
BILLING = {
    "no_billing": (
        "Billing required",
        "You need to set up billing to run this model. Go to https://replicate.com/account/billing#billing "
        "to set it up. If you have recently set up billing, please wait a few minutes before trying again.",
    ),
    "no_credit": (
        "Insufficient credit",
        "You have insufficient credit to run this model. Go to https://replicate.com/account/billing#billing "
        "to purchase credit. Once you purchase credit, please wait a few minutes before trying again.",
    ),
}
FAILURES = {
    "fail": "Prediction failed: CUDA out of memory. Tried to allocate 2.00 GiB",
    "nsfw": "NSFW content detected. Try running it again, or try a different prompt.",
}
_CREATE_KEYS = {"version", "input", "webhook", "webhook_completed", "webhook_events_filter", "stream"}
_PAGE = 100


def authenticate(req: Request, ctx: Context) -> KeyInfo | Response:
    """Bearer (or legacy Token) auth; 401 bodies per replicate-api.md §2.3."""
    raw = bearer(req, ("Bearer", "Token"))
    if not raw:
        return problem(401, "You did not pass an authentication token", "Unauthenticated")
    info = ctx.keys.lookup("replicate", raw)
    if info.state == "invalid":
        return problem(401, "You did not pass a valid authentication token", "Unauthenticated")
    return info


def invalid_version() -> Response:
    detail = "The specified version does not exist (or perhaps you don't have permission to use it?)"
    return problem(422, detail, "Invalid version or not permitted")


def _field(issue: Issue) -> Json:
    path = ".".join(("input", *issue.loc))
    name = issue.loc[-1] if issue.loc else "input"
    if issue.kind == "missing":
        return {
            "type": "required",
            "field": ".".join(("input", *issue.loc[:-1])),
            "description": f"{name} is required",
        }
    if issue.kind == "type":
        given = type(issue.value).__name__.replace("str", "string").replace("int", "integer")
        description = f"Invalid type. Expected: {issue.expected}, given: {given}"
        return {"type": "invalid_type", "field": path, "description": description}
    if issue.kind == "enum":
        allowed = ", ".join(json.dumps(v) for v in issue.expected or [])
        return {
            "type": "enum",
            "field": path,
            "description": f"{name} must be one of the following: {allowed}",
        }
    word, kind = ("greater", "number_gte") if issue.kind == "minimum" else ("less", "number_lte")
    return {"type": kind, "field": path, "description": f"Must be {word} than or equal to {issue.expected}"}


def input_problem(fields: list[Json]) -> Response:
    """422 "Input validation failed" with `invalid_fields`, exactly as §2.3 shows it."""
    detail = "".join(f"- {f['field']}: {f['description']}\n" for f in fields)
    return problem(422, detail, "Input validation failed", invalid_fields=fields)


def _duration(text: str) -> float | None:
    """Cancel-After values: `30s`, `5m`, `1h30m45s`, or bare seconds (§1.3)."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", text)
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# --- the prediction object ----------------------------------------------------------------------------


def _status(job: Job, phase: Phase) -> str:
    if phase == "queued":
        return "starting"
    if phase == "running":
        return "processing"
    if phase == "done":
        return job.outcome.replicate_status
    return phase  # canceled | aborted


def _logs(job: Job, status: str) -> str:
    lines = []
    for line in job.logs:  # tqdm-style, so replicate's Prediction.progress can parse it
        pct = 100 * line.step // max(line.total, 1)
        bar = ("█" * (pct // 10)).ljust(10)
        lines.append(f"{pct:3d}%|{bar}| {line.step}/{line.total} [00:0{line.step % 10}<00:00, 4.00it/s]")
    if status == "failed" and job.outcome.error:
        lines.append(job.outcome.error)
    return "".join(f"{line}\n" for line in lines)


def prediction_json(req: Request, job: Job, phase: Phase) -> Json:
    """Every field of the spec's prediction response (§1.4); URLs point back at the sandbox."""
    status = _status(job, phase)
    succeeded = status == "succeeded"
    base = f"{req.base_url}/replicate/v1/predictions/{job.id}"
    out: Json = {
        "id": job.id,
        "model": job.model,
        "version": job.version,
        "input": job.input,
        "logs": _logs(job, status),
        "output": job.outcome.output if succeeded and not job.outcome.data_removed else None,
        "data_removed": job.outcome.data_removed,
        "error": job.outcome.error if status == "failed" else None,
        "status": status,
        "source": "api",
        "created_at": iso(job.created),
        "started_at": iso(job.started),
        "completed_at": iso(job.completed) if phase in TERMINAL else None,
        "metrics": {},
        "urls": {"get": base, "cancel": f"{base}/cancel", "web": f"{req.base_url}/replicate/p/{job.id}"},
    }
    if phase in TERMINAL:
        started = job.started or job.created
        done = job.completed or time.time()
        out["metrics"] = {
            "predict_time": round(max(done - started, 0.0), 6),
            "total_time": round(done - job.created, 6),
        }
    if job.deadline is not None:
        out["deadline"] = iso(job.deadline)
    return out


# --- create --------------------------------------------------------------------------------------------


def _outcome(model: ReplicateModel, inputs: Json, job_id: str, media: MediaContext) -> Outcome:
    wanted = directives.parse(inputs)
    if wanted.fail or wanted.nsfw:
        return Outcome(replicate_status="failed", error=FAILURES["nsfw" if wanted.nsfw else "fail"])
    if wanted.aborted:
        return Outcome(replicate_status="aborted")
    if wanted.canceled:
        return Outcome(replicate_status="canceled")
    output = replicate_output(model, inputs, job_id, media)
    return Outcome(output=output, data_removed=wanted.data_removed)


def create(req: Request, ctx: Context, info: KeyInfo, *, path_model: ReplicateModel | None) -> Response:
    """POST /v1/predictions (any version form) or /v1/models/{o}/{n}/predictions (official models)."""
    try:
        body = req.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return problem(400, "Request body is not valid JSON")
    if not isinstance(body, dict):
        return problem(400, "Request body must be a JSON object")
    allowed = _CREATE_KEYS - {"version"} if path_model is not None else _CREATE_KEYS
    extra = [k for k in body if k not in allowed]
    if extra:
        fields = [
            {
                "type": "additional_property_not_allowed",
                "field": "",
                "description": f"Additional property {k} is not allowed",
            }
            for k in extra
        ]
        return input_problem(fields)
    if path_model is not None:
        model, version, shown = path_model, path_model.latest, "hidden"
    else:
        resolved = _resolve_version(str(body.get("version", "")))
        if isinstance(resolved, Response):
            return resolved
        model, version, shown = resolved
    if info.state in BILLING:
        title, detail = BILLING[info.state]
        return problem(402, detail, title)
    inputs = body.get("input") or {}
    if not isinstance(inputs, dict):
        return input_problem(
            [{"type": "invalid_type", "field": "input", "description": "Invalid type. Expected: object"}]
        )
    issues = validate(inputs, version.input_schema, version.openapi_schema["components"]["schemas"])
    if issues:
        return input_problem([_field(i) for i in issues])
    return _start(req, ctx, info, model, shown, inputs)


def _resolve_version(ref: str) -> tuple[ReplicateModel, Any, str] | Response:
    """`owner/name:<64hex>`, a bare 64-hex id, or `owner/name` for official models only (§1.1)."""
    match = re.fullmatch(r"([^/:]+)/([^/:]+)(?::([0-9a-f]{64}))?", ref)
    if match:
        model = replicate_model(match.group(1), match.group(2))
        if model is None:
            return invalid_version()
        if match.group(3) is None:
            return (model, model.latest, "hidden") if model.official else invalid_version()
        version = next((v for v in model.versions if v.id == match.group(3)), None)
        return (model, version, version.id) if version is not None else invalid_version()
    found = replicate_version(ref) if re.fullmatch(r"[0-9a-f]{64}", ref) else None
    if found is None:
        return invalid_version()
    return found[0], found[1], found[1].id


def _start(
    req: Request, ctx: Context, info: KeyInfo, model: ReplicateModel, shown: str, inputs: Json
) -> Response:
    cfg = ctx.config
    wanted = directives.parse(inputs)
    deadline: float | None = None
    cancel_after = req.header("cancel-after")
    if cancel_after is not None:
        seconds = _duration(cancel_after)
        if seconds is None or seconds < cfg.cancel_after_min:
            return problem(
                400, f"Invalid Cancel-After header: the minimum is {cfg.cancel_after_min:g}s"
            )  # [U]
        deadline = time.time() + seconds
    job_id = replicate_id()
    media = MediaContext(
        ctx.store,
        req.base_url,
        "replicate",
        data_uri=cfg.data_uri_outputs or wanted.data_uri,
        big=wanted.big if wanted.big is not None else cfg.big_output_bytes,
    )
    job = ctx.store.add_job(
        Job(
            id=job_id,
            provider="replicate",
            model=model.ref,
            input=inputs,
            account=info.account,
            key_fp=fingerprint(bearer(req, ("Bearer", "Token")) or ""),
            outcome=_outcome(model, inputs, job_id, media),
            queue_polls=wanted.queue if wanted.queue is not None else cfg.queue_polls,
            progress_polls=wanted.progress if wanted.progress is not None else cfg.progress_polls,
            latency=wanted.latency if wanted.latency is not None else cfg.model_latency,
            never_finish=cfg.never_finish or wanted.hang,
            version=shown,
            deadline=deadline,
        )
    )
    headers: dict[str, str] = {}
    prefer = re.fullmatch(r"wait(?:=(\d+))?", (req.header("prefer") or "").strip())
    with ctx.store.lock:
        phase = job.observe(time.time(), advance=prefer is not None)
        block = job.seconds_to_done(time.time()) if prefer else None
    if prefer is not None:
        wait = min(int(prefer.group(1) or 60), 60)
        headers["Preference-Applied"] = f"wait={wait}"
        if phase not in TERMINAL:
            if block is None and job.never_finish:
                block = ctx.config.max_block  # don't hold a test hostage for the full 60 s
            if block is not None:
                if deadline is not None:
                    block = min(block, deadline - time.time())
                req.wait(min(wait, block))
                with ctx.store.lock:
                    phase = job.observe(time.time(), advance=False)
    with ctx.store.lock:
        payload = prediction_json(req, job, phase)
    return json_response(201, payload, headers)


# --- get, cancel, list ------------------------------------------------------------------------------------


def _owned(ctx: Context, info: KeyInfo, prediction_id: str) -> Job | Response:
    job = ctx.store.job(prediction_id)
    # Someone else's prediction is a 404, not a 403 (§1.5).
    if job is None or job.provider != "replicate" or job.account != info.account:
        return problem(404, NOT_FOUND)
    return job


def get(req: Request, ctx: Context, info: KeyInfo, prediction_id: str) -> Response:
    job = _owned(ctx, info, prediction_id)
    if isinstance(job, Response):
        return job
    with ctx.store.lock:
        phase = job.observe(time.time(), advance=True)
        return json_response(200, prediction_json(req, job, phase))


def cancel(req: Request, ctx: Context, info: KeyInfo, prediction_id: str) -> Response:
    key_fp = fingerprint(bearer(req, ("Bearer", "Token")) or "")
    job = _owned(ctx, info, prediction_id)
    if isinstance(job, Response):
        ctx.store.record_cancel(
            CancelRecord("replicate", prediction_id, "", "not_found", time.time(), key_fp)
        )
        return job
    with ctx.store.lock:
        before = job.observe(time.time(), advance=False)
        job.cancel(time.time())
        payload = prediction_json(req, job, job.final or before)
    ctx.store.record_cancel(CancelRecord("replicate", job.id, job.model, before, time.time(), key_fp))
    return json_response(200, payload)


def listing(req: Request, ctx: Context, info: KeyInfo) -> Response:
    """GET /v1/predictions: newest first, 100 a page, absolute `next` URLs (§1.5)."""
    try:
        offset = int(base64.b64decode(req.arg("cursor") or "MA==").decode())
    except ValueError:
        return problem(400, "Invalid cursor")
    with ctx.store.lock:
        mine = [j for j in ctx.store.jobs.values() if j.provider == "replicate" and j.account == info.account]
        mine.sort(key=lambda j: j.created, reverse=True)
        page = [
            prediction_json(req, j, j.observe(time.time(), advance=False))
            for j in mine[offset : offset + _PAGE]
        ]
    more = offset + _PAGE < len(mine)
    cursor = base64.b64encode(str(offset + _PAGE).encode()).decode()
    next_url = f"{req.base_url}/replicate/v1/predictions?cursor={cursor}" if more else None
    return json_response(200, {"next": next_url, "previous": None, "results": page})
