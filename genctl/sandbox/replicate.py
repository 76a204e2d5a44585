"""Replicate predictions (api.replicate.com/v1, under /replicate/v1): create, get, cancel, list.

Shapes and error bodies follow replicate-api.md §1-2 and the OpenAPI spec beside it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from genctl.sandbox import directives
from genctl.sandbox.catalog import Json, ReplicateModel, replicate_model, replicate_models, replicate_version
from genctl.sandbox.keys import KeyInfo, fingerprint
from genctl.sandbox.outputs import MediaContext, replicate_output
from genctl.sandbox.replicate_common import (
    BILLING,
    NOT_FOUND,
    authenticate,
    bad_query,
    field_json,
    input_problem,
    invalid_version,
    page_offset,
)
from genctl.sandbox.state import TERMINAL, CancelRecord, Context, Job, Outcome, Phase, iso, replicate_id
from genctl.sandbox.validate import validate
from genctl.sandbox.wire import Request, Response, bearer, json_response, problem

__all__ = ["NOT_FOUND", "authenticate", "cancel", "create", "get", "invalid_version", "listing"]

FAILURES = {
    "fail": "Prediction failed: CUDA out of memory. Tried to allocate 2.00 GiB",
    "nsfw": "NSFW content detected. Try running it again, or try a different prompt.",
}
_CREATE_KEYS = {"version", "input", "webhook", "webhook_completed", "webhook_events_filter", "stream"}
_PAGE = 100


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
    """The prediction object as the recorded exchanges show it (§1.4, replicate-python cassettes).

    Always: id, model, version, input, logs, output, data_removed, error, status, source, created_at, urls.
    `started_at` appears once the prediction has started, `completed_at` and `metrics` once it is terminal;
    before that they are absent, not null (every recorded `starting`/`processing` answer). `urls` holds `get`,
    `cancel` and `stream`: the spec also requires `urls.web`, but no recording carries it, so it is left out
    (the recordings win). `logs` is null on a prediction cancelled before it logged anything
    (predictions-cancel.yaml). `source` is the spec's (no recording shows it).
    """
    status = _status(job, phase)
    succeeded = status == "succeeded"
    base = f"{req.base_url}/replicate/v1/predictions/{job.id}"
    logs: str | None = _logs(job, status)
    if status == "canceled" and not logs:
        logs = None
    out: Json = {
        "id": job.id,
        "model": job.model,
        "version": job.version,
        "input": job.input,
        "logs": logs,
        "output": job.outcome.output if succeeded and not job.outcome.data_removed else None,
        "data_removed": job.outcome.data_removed,
        "error": job.outcome.error if status == "failed" else None,
        "status": status,
        "source": "api",
        "created_at": iso(job.created),
        "urls": {
            "cancel": f"{base}/cancel",
            "get": base,
            "stream": f"{req.base_url}/replicate/v1/streams/{job.id}",
        },
    }
    if job.started is not None and phase != "aborted":
        out["started_at"] = iso(job.started)
    if phase in TERMINAL:
        started = job.started or job.created
        done = job.completed or time.time()
        out["completed_at"] = iso(done)
        out["metrics"] = {
            "predict_time": round(max(done - started, 0.0), 6),
            "total_time": round(done - job.created, 6),
        }
    if job.deadline is not None:
        out["deadline"] = iso(job.deadline)
    return out


def official_version(model: ReplicateModel) -> str:
    """What an official model's predictions carry as `version`: "dp-" + 32 hex (recorded
    test_models_predictions_create_blocking, `dp-a557b7387b4940df25b23f779dc534c4`), not the spec's "hidden".
    """
    return "dp-" + hashlib.md5(f"{model.ref}:{model.latest.id}".encode()).hexdigest()


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
        return problem(400, "Request body is not valid JSON")  # UNVERIFIED: status and wording
    if not isinstance(body, dict):
        return problem(400, "Request body must be a JSON object")  # UNVERIFIED: status and wording
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
        model, version, shown = path_model, path_model.latest, official_version(path_model)
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
        return input_problem([field_json(i) for i in issues])
    return _start(req, ctx, info, model, shown, inputs)


def _resolve_version(ref: str) -> tuple[ReplicateModel, Any, str] | Response:
    """`owner/name:<64hex>`, a bare 64-hex id, or `owner/name` for official models only (§1.1)."""
    match = re.fullmatch(r"([^/:]+)/([^/:]+)(?::([0-9a-f]{64}))?", ref)
    if match:
        model = replicate_model(match.group(1), match.group(2))
        if model is None:
            return invalid_version()
        if match.group(3) is None:
            return (model, model.latest, official_version(model)) if model.official else invalid_version()
        version = next((v for v in model.versions if v.id == match.group(3)), None)
        return (model, version, version.id) if version is not None else invalid_version()
    if ref.startswith("dp-"):
        # UNVERIFIED: that a dp- id is accepted back as a version; the sandbox maps it to its model.
        official = next((m for m in replicate_models() if m.official and official_version(m) == ref), None)
        return (official, official.latest, ref) if official is not None else invalid_version()
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
            )  # UNVERIFIED: the 400 and its wording for a too-short Cancel-After
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
        # The recordings echo the preference as sent: `wait` -> `wait`, `wait=10` -> `wait=10`.
        # UNVERIFIED: what is echoed for N > 60 (the spec allows 1-60); the sandbox caps the wait at 60.
        wait = min(int(prefer.group(1) or 60), 60)
        headers["Preference-Applied"] = "wait" if prefer.group(1) is None else f"wait={wait}"
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
    early = ctx.config.replicate_early_output or wanted.early_output
    if prefer is not None and early and payload["status"] == "succeeded":
        payload = _early(payload)
    return json_response(201, payload, headers)


def _early(payload: Json) -> Json:
    """A finished prediction as the recorded sync answers show it: 201 `processing` with the output already
    filled and `urls.stream`, but no started_at, completed_at or metrics (test_*_blocking[*-10].yaml).
    A GET afterwards answers the real `succeeded`."""
    early = {k: v for k, v in payload.items() if k not in ("started_at", "completed_at", "metrics")}
    early["status"] = "processing"
    return early


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


def _when(req: Request, name: str) -> float | Response | None:
    raw = req.arg(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return bad_query(f"Invalid {name}: expected an ISO 8601 date-time")  # UNVERIFIED: wording
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def listing(req: Request, ctx: Context, info: KeyInfo) -> Response:
    """GET /v1/predictions: newest first, 100 a page, absolute `next`/`previous` URLs (§1.5); filters
    `created_after` (inclusive), `created_before` (exclusive) and `source=web` (the spec's only value)."""
    offset = page_offset(req)
    after, before = _when(req, "created_after"), _when(req, "created_before")
    for parsed in (offset, after, before):
        if isinstance(parsed, Response):
            return parsed
    assert isinstance(offset, int) and not isinstance(after, Response) and not isinstance(before, Response)
    source = req.arg("source")
    if source not in (None, "web"):
        return bad_query('Invalid source: the only supported value is "web"')  # UNVERIFIED: wording
    with ctx.store.lock:
        mine = [
            j
            for j in ctx.store.jobs.values()
            if j.provider == "replicate"
            and j.account == info.account
            and source is None  # every sandbox prediction came from the API, none from the web
            and (after is None or j.created >= after)
            and (before is None or j.created < before)
        ]
        mine.sort(key=lambda j: j.created, reverse=True)
        page = [
            prediction_json(req, j, j.observe(time.time(), advance=False))
            for j in mine[offset : offset + _PAGE]
        ]
    keep = {k: v for k, v in req.query.items() if k != "cursor"}

    def url(at: int) -> str:
        query = urllib.parse.urlencode(
            [*((k, v) for k, vs in keep.items() for v in vs), ("cursor", _b64(at))]
        )
        return f"{req.base_url}/replicate/v1/predictions?{query}"

    return json_response(
        200,
        {
            "next": url(offset + _PAGE) if offset + _PAGE < len(mine) else None,
            "previous": url(max(offset - _PAGE, 0)) if offset > 0 else None,
            "results": page,
        },
    )


def _b64(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()
