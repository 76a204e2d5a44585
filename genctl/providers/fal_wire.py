"""fal.ai wire facts the queue client reads: infra error types, `Path … not found`, empty results. Pure."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from genctl.errors import GenctlError, error
from genctl.providers._common import ErrorBody, maker, request_path, str_or_none
from genctl.providers.base import JobStatus, State

if TYPE_CHECKING:
    import httpx

# Request errors: fal's infrastructure failing, told apart from model errors by a flat top-level
# `error_type` (and the same value in X-Fal-Error-Type); model errors put their types inside `detail[]`
# (fal-api.md §2.2 "5xx/504", fal's docs page "Request errors"). The first five are in fal-api.md; the rest
# of the docs' table (runner_connection_refused … internal_error, client_*, bad_request) is known only from
# third-party copies of it. Any other top-level type counts as infra too: that is the field's meaning.
INFRA_ERROR_TYPES = frozenset(
    {
        "request_timeout",
        "startup_timeout",
        "runner_scheduling_failure",
        "runner_connection_timeout",
        "runner_disconnected",
        "runner_connection_refused",
        "runner_connection_error",
        "runner_incomplete_response",
        "runner_server_error",
        "internal_error",
    }
)
# The runner answered 500 ("Runner internal error"; fal's runtime answers an unhandled exception in the
# app with 500 "Internal Server Error", fal-api.md §2.2). On a finished job's status or result the model
# ran and failed: generation.failed, with a fix that says retry, never "check the inputs" (nothing says the
# input was bad). Anywhere else (a submit, a poll) it is the platform failing: provider.unavailable.
_MODEL_RAN_TYPES = frozenset({"runner_server_error"})
# Top-level types about the request or a cancel, not the infrastructure (docs' table, 400 and 499 rows).
# UNVERIFIED: `validation_error` at the top level is a name only our emulator uses; either way a 4xx result
# GET is read first (runner._finish), and its fields decide.
_MODEL_ERROR_TYPES = frozenset({"content_policy_violation", "bad_request", "validation_error"})
CANCEL_ERROR_TYPES = frozenset({"client_cancelled", "client_disconnected"})
# fal's runtime answers an unknown path of a known app with this (fal-api.md §2.2, turn-2 correction).
_PATH_NOT_FOUND = re.compile(r"^Path (/\S*) not found$")
_APP_OF_REQUEST = re.compile(r"^/(.+)/requests/([^/]+)(?:/.*)?$")
_PLATFORM_REQUESTS = re.compile(r"/v1/models/requests/")  # the platform API's listings, not a queue URL
_ERROR_KEYS = frozenset({"detail", "error_type", "status", "request_id"})  # an error body and nothing else
_MEDIA_KEYS = ("images", "image", "video", "videos", "audio", "audio_file", "audios", "file", "files")


def error_type(response: httpx.Response, body: ErrorBody | None = None) -> str | None:
    """The request-error category: the X-Fal-Error-Type header, else the body's `error_type`."""
    header: str | None = response.headers.get("x-fal-error-type")
    return str_or_none(header) or (body.type if body is not None else None)


def is_infra_error_type(kind: str | None) -> bool:
    return kind is not None and kind not in _MODEL_ERROR_TYPES and kind not in CANCEL_ERROR_TYPES


def infra_error(
    kind: str,
    said: str,
    *,
    user_timeout: bool,
    status: int | None,
    request_id: str | None,
    job_ran: bool = False,
) -> GenctlError:
    """fal's infrastructure failed (or the caller's own start timeout ran out): retry, never "check input".

    `job_ran`: the error is a finished job's (its COMPLETED status or its result), not a submit's or poll's.
    """
    make = maker("fal", status, request_id)
    if kind == "request_timeout" and user_timeout:
        # X-Fal-Request-Timeout-Type: user: our own X-Fal-Request-Timeout (time to start) ran out (§1.7).
        return make(
            "generation.timeout",
            f"fal gave up starting the job within its start timeout: {said}",
            "Raise --timeout, or retry when the model's queue is shorter.",
            error_type=kind,
        )
    if kind in _MODEL_RAN_TYPES and job_ran:
        return make(
            "generation.failed",
            f"fal's runner failed while running the model ({kind}): {said}",
            "Retry; if it fails the same way again, try other inputs or another model. "
            "Server errors are not charged.",
            error_type=kind,
        )
    known = "" if kind in INFRA_ERROR_TYPES else " (an error type genctl does not know yet)"
    return make(
        "provider.unavailable",
        f"fal's infrastructure failed ({kind}{known}): {said}",
        "A fal-side failure, not your input: retry in a minute (a busy model may need a longer --timeout); "
        "server errors are not charged.",
        error_type=kind,
    )


def request_error(response: httpx.Response, body: ErrorBody, *, request_id: str | None) -> GenctlError | None:
    """A cancel (499, client_* types) or a request (infra) error type; None for every other answer."""
    status, said, kind = response.status_code, body.message, error_type(response, body)
    if status == 499 or kind in CANCEL_ERROR_TYPES:
        # fal's runtime answers the result of a job cancelled while running with 499 (fal-api.md §2.2).
        return maker("fal", status, request_id)(
            "generation.canceled",
            f"fal cancelled the job (HTTP {status}): {said}",
            "The job was cancelled (by genctl's deadline, another client or the app); run it again.",
        )
    # UNVERIFIED: whether a 4xx naming fields (or a 429) ever carries a top-level error_type too; if so,
    # the fields (or the rate limit, with its retry hint) win.
    has_fields = status in (400, 422) and bool(body.fields)
    if kind is not None and is_infra_error_type(kind) and not has_fields and status != 429:
        timeout = user_timeout(response)
        return infra_error(
            kind,
            said,
            user_timeout=timeout,
            status=status,
            request_id=request_id,
            job_ran=is_result_url(response),
        )
    if status == 504 and user_timeout(response):
        # UNVERIFIED: a user start timeout without an error_type; fal documents both together (§1.7).
        return infra_error("request_timeout", said, user_timeout=True, status=status, request_id=request_id)
    return None


def not_charged(response: httpx.Response) -> bool:
    """fal's runtime sets `x-fal-billable-units: 0` on its own 404 and 422 answers (fal-api.md §1.7)."""
    units: str = response.headers.get("x-fal-billable-units", "")
    return units.strip() == "0"


def billable_units(response: httpx.Response) -> float | None:
    """The call's `x-fal-billable-units` (§1.7) as a finite number >= 0; None when absent or not a number.

    UNVERIFIED: fal's runtime sets it on the app's response (§1.7); that the queue's result GET passes it on
    is what the sandbox does, no recording shows it. Without it the cost is an estimate or unknown.
    """
    text: str = response.headers.get("x-fal-billable-units", "").strip()
    try:
        units = float(text)
    except ValueError:
        return None
    return units if math.isfinite(units) and units >= 0 else None


def path_not_found(
    response: httpx.Response, said: str, *, model: str | None, request_id: str | None
) -> GenctlError | None:
    """`Path /foo not found`: the app exists but not that endpoint path: a wrong id, never an expired result.

    The queue accepts the submit and completes the job at once; only the result GET says it (§2.2). The
    endpoint id comes from the model when known, else from the result URL's app plus the path fal names.
    """
    match = _PATH_NOT_FOUND.match(said.strip())
    if match is None:
        return None
    path = match.group(1)
    endpoint = model
    if endpoint is None and (app := _APP_OF_REQUEST.match(request_path(response))) is not None:
        endpoint = app.group(1) + path
    charged = " Nothing was charged." if not_charged(response) else ""
    shown = f"{endpoint!r}" if endpoint else "this endpoint"
    make = maker("fal", response.status_code, request_id)
    return make(
        "model.not_found",
        f"fal has no endpoint {shown}: the app exists but has no path {path} ({said}).{charged}",
        "Check the path after owner/app in the endpoint id (e.g. fal-ai/flux/dev) at fal.ai/models.",
        **({"endpoint_id": endpoint} if endpoint else {}),
        path=path,
    )


def is_result_url(response: httpx.Response) -> bool:
    """Whether `response` answers a job's result GET (…/requests/{id}), not its status or a submit."""
    return _APP_OF_REQUEST.match(request_path(response)) is not None and not request_path(response).endswith(
        ("/status", "/cancel")
    )


def request_id_of(response: httpx.Response) -> str | None:
    """fal's request id: the `x-fal-request-id` header, else the id in a …/requests/{id} URL."""
    header: str | None = response.headers.get("x-fal-request-id")
    if header:
        return header
    path = request_path(response)
    if _PLATFORM_REQUESTS.search(path):
        return None  # `/v1/models/requests/search` and `/by-endpoint` list requests: no id in the path
    match = _APP_OF_REQUEST.match(path)
    return match.group(2) if match else None


def empty_result(response: httpx.Response, body: Any) -> GenctlError | None:
    """The error for a 2xx result that holds nothing (no JSON, a `detail`, empty media lists); else None.

    A result without files but with some other value (a text model's answer) is not empty.
    """
    request_id = request_id_of(response)
    make = maker("fal", response.status_code, request_id)
    fix = "Run it again; if it keeps happening, check the endpoint id and the model's page at fal.ai."
    if not isinstance(body, dict | list):
        # UNVERIFIED: no artifact shows fal answering a result with a non-JSON 2xx; a proxy page would.
        what = "not JSON (an HTML page?)" if body is None else f"a bare {type(body).__name__}"
        return make("generation.failed", f"fal's result for request {request_id} is {what}.", fix)
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str) and detail.strip() and set(body) <= _ERROR_KEYS:
            # A single third-party report: a result GET answered 200 {"detail": "Path … not found"} (§2.2).
            found = path_not_found(response, detail, model=None, request_id=request_id)
            return found or make(
                "generation.failed", f"fal's result for request {request_id} holds no output: {detail}", fix
            )
        # UNVERIFIED: no artifact shows fal answering `{"images": []}` or `{}`; a result without a file
        # where the output's own keys are empty can only be a failure, whatever the server meant.
        media = [body[k] for k in _MEDIA_KEYS if k in body]
        if not body or (media and all(value in (None, [], {}, "") for value in media)):
            return make("generation.failed", f"fal's result for request {request_id} holds no output.", fix)
    elif not body:
        return make("generation.failed", f"fal's result for request {request_id} is an empty list.", fix)
    return None


def user_timeout(response: httpx.Response) -> bool:
    kind: str = response.headers.get("x-fal-request-timeout-type", "")
    return kind.strip().lower() == "user"


def status_from(
    body: dict[str, Any], *, default: str | None, response: httpx.Response | None = None
) -> JobStatus:
    raw = str_or_none(body.get("status")) or default
    # Docs and SDKs show a list of {message, level, source, timestamp}; fal's per-endpoint OpenAPI types
    # `logs` as an object (shared/recordings/fal/seedream_openapi.json). UNVERIFIED which one is sent:
    # anything but a list is read as no logs.
    raw_logs = body.get("logs")
    logs = tuple(
        str(item.get("message", "")) if isinstance(item, dict) else str(item)
        for item in (raw_logs if isinstance(raw_logs, list) else ())
    )
    metrics = body.get("metrics") if isinstance(body.get("metrics"), dict) else {}
    position = body.get("queue_position")
    position = position if isinstance(position, int) and not isinstance(position, bool) else None
    state: State
    if raw == "IN_QUEUE":
        state = "queued"
    elif raw == "IN_PROGRESS":
        state = "running"
    elif raw == "COMPLETED":
        # A failed job is COMPLETED too, with error/error_type; its result GET returns the model's error.
        state = "failed" if body.get("error") or body.get("error_type") else "succeeded"
    else:
        raise error(
            "provider.unavailable",
            f"fal reported an unknown job status {raw!r}.",
            fix="Update genctl; if it persists, report it.",
            provider="fal",
            request_id=request_id_of(response) if response is not None else None,
        )
    return JobStatus(
        state=state,
        queue_position=position if state == "queued" else None,
        logs=logs,
        error=str_or_none(body.get("error")),
        error_type=str_or_none(body.get("error_type")),  # the header is read on the result GET
        metrics=dict(metrics or {}),
    )
