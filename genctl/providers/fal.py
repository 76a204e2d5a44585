"""fal.ai: the queue API's requests and responses, output extraction and error mapping, as pure functions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genctl.errors import GenctlError, error
from genctl.http import json_body, same_host
from genctl.providers import registry
from genctl.providers._common import (
    ErrorBody,
    common_error,
    fallback_error,
    fields_message,
    json_object,
    maker,
    malformed,
    read_error_body,
    request_path,
    scrub,
    str_or_none,
)
from genctl.providers.base import Job, JobStatus, Output, Result
from genctl.providers.fal_wire import (
    CANCEL_ERROR_TYPES,
    billable_units,
    empty_result,
    infra_error,
    is_infra_error_type,
    path_not_found,
    request_error,
    request_id_of,
    status_from,
)
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.settings import ProviderSettings
    from genctl.values import Key

DEFAULT_URLS = registry.FAL.default_urls
_NAMESPACES = ("workflows", "comfy")  # ids whose app has three segments (fal-api.md §1.2)
_LEGACY_ID = re.compile(r"^(\d+)-([a-zA-Z0-9_-]+)$")
_APP_NOT_FOUND = re.compile(r"Application '([^']+)' not found")
_MEDIA_KEYS = frozenset(
    {"images", "image", "video", "videos", "audio", "audio_file", "audios", "file", "files"}
)
_FILE_MARKERS = ("content_type", "file_name", "file_size", "width", "height")
_MAX_DEPTH = 6
_MAX_NODES = 2000
_KEYS_URL = "https://fal.ai/dashboard/keys"


def split_endpoint(endpoint_id: str) -> tuple[str, str]:
    """`(app, path)` of an endpoint id: `fal-ai/flux-pro/v1.1-ultra` -> (`fal-ai/flux-pro`, `v1.1-ultra`)."""
    segments = [s for s in endpoint_id.strip().strip("/").split("/") if s]
    if len(segments) == 1 and (legacy := _LEGACY_ID.match(segments[0])):
        return f"{legacy.group(1)}/{legacy.group(2)}", ""
    if segments and segments[0] in _NAMESPACES and len(segments) >= 3:
        return "/".join(segments[:3]), "/".join(segments[3:])
    if len(segments) < 2:
        raise error(
            "model.not_found",
            f"{endpoint_id!r} is not a fal endpoint id.",
            fix="fal ids look like owner/app[/path], e.g. fal-ai/flux/dev.",
            provider="fal",
        )
    return "/".join(segments[:2]), "/".join(segments[2:])


def app_splits(endpoint_id: str, app: str) -> list[str]:
    """Re-splits of app `a-b` as `a/b`: `fal-ai/flux-dev` -> `fal-ai/flux/dev` (fal-api.md §6.1)."""
    owner, _, name = app.rpartition("/")
    rest = endpoint_id.strip("/")[len(app) :] if endpoint_id.strip("/").startswith(app) else ""
    candidates = []
    for match in re.finditer("-", name):
        head, tail = name[: match.start()], name[match.end() :]
        if head and tail:
            candidates.append(f"{owner}/{head}/{tail}{rest}" if owner else f"{head}/{tail}{rest}")
    return candidates[:3]


class FalProvider:
    """fal.ai's queue API (fal-api.md §1): submit, status, result, cancel."""

    name = "fal"

    def __init__(
        self,
        *,
        queue_url: str = DEFAULT_URLS["queue_url"],
        run_url: str = DEFAULT_URLS["run_url"],
        api_url: str = DEFAULT_URLS["api_url"],
        rest_url: str = DEFAULT_URLS["rest_url"],
        cdn_url: str | None = None,
    ) -> None:
        self.queue_url = queue_url.rstrip("/")
        self.run_url = run_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        self.cdn_url = cdn_url.rstrip("/") if cdn_url else None  # None: take it from the storage token

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> FalProvider:
        urls = {**DEFAULT_URLS, **{k: v for k, v in settings.urls.items() if v}}
        return cls(
            queue_url=urls["queue_url"],
            run_url=urls["run_url"],
            api_url=urls["api_url"],
            rest_url=urls["rest_url"],
            cdn_url=urls.get("cdn_url"),
        )

    def __repr__(self) -> str:
        return f"FalProvider(queue_url={self.queue_url!r})"

    # -- requests -----------------------------------------------------------------------------------

    @staticmethod
    def headers(key: Key) -> dict[str, str]:
        return {"Authorization": f"Key {key.sendable()}", "Accept": "application/json"}

    def submit_request(
        self,
        *,
        model: str,
        params: dict[str, Any],
        key: Key,
        deadline: float | None = None,
        wait: float | None = None,  # the queue answers at once: the status stream follows the job
    ) -> HttpRequest:
        # The full endpoint id goes in the submit URL (fal-api.md §1.2). The queue has no server-side
        # lifetime limit (X-Fal-Request-Timeout bounds only the time to start), so `deadline` is the
        # runner's to enforce with a cancel.
        split_endpoint(model)
        return HttpRequest(
            "POST", f"{self.queue_url}/{model.strip('/')}", headers=self.headers(key), json=params
        )

    def status_request(self, job: Job, *, key: Key, logs: bool = True) -> HttpRequest:
        params = {"logs": "1"} if logs else None
        return HttpRequest("GET", job.status_url, headers=self.headers(key), params=params, idempotent=True)

    def status_stream_request(self, job: Job, *, key: Key, logs: bool = True) -> HttpRequest | None:
        # fal-api.md §1.1: the status URL + /stream, SSE events of the same status objects, `?logs=1`.
        params = {"logs": "1"} if logs else None
        headers = {**self.headers(key), "Accept": "text/event-stream"}
        return HttpRequest("GET", f"{job.status_url.rstrip('/')}/stream", headers=headers, params=params)

    def result_request(self, job: Job, *, key: Key) -> HttpRequest | None:
        url = job.result_url or self._request_url(job.model, job.request_id)
        return HttpRequest("GET", url, headers=self.headers(key), idempotent=True)

    def cancel_request(self, job: Job, *, key: Key) -> HttpRequest | None:
        url = job.cancel_url or self._request_url(job.model, job.request_id) + "/cancel"
        return HttpRequest("PUT", url, headers=self.headers(key), idempotent=True)

    def download_headers(self, url: str, *, key: Key) -> dict[str, str]:
        # fal's output files (v3.fal.media, fal.media, …) are public URLs: the key never leaves for them.
        return {}

    def _request_url(self, model: str, request_id: str) -> str:
        # Status, result and cancel URLs use only owner/app (fal-api.md §1.2).
        app, _ = split_endpoint(model)
        return f"{self.queue_url}/{app}/requests/{request_id}"

    # -- responses ----------------------------------------------------------------------------------

    def parse_submit(self, response: httpx.Response, *, model: str, key: Key) -> tuple[Job, JobStatus]:
        body = json_object(self.name, response, "submit", request_id=request_id_of(response))
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise malformed(self.name, response, "the submit answer has no request_id")
        base = self._request_url(model, request_id)
        job = Job(
            provider=self.name,
            model=model,
            request_id=request_id,
            status_url=same_host(body.get("status_url"), self.queue_url) or f"{base}/status",
            result_url=same_host(body.get("response_url"), self.queue_url) or base,
            cancel_url=same_host(body.get("cancel_url"), self.queue_url) or f"{base}/cancel",
            key_label=key.label,
        )
        return job, status_from(body, default="IN_QUEUE")

    def parse_status(self, response: httpx.Response) -> JobStatus:
        body = json_object(self.name, response, "status", request_id=request_id_of(response))
        return status_from(body, default=None, response=response)

    def parse_result(self, response: httpx.Response) -> Result:

        body = json_body(response)
        outputs = tuple(extract_outputs(body))
        if not outputs and (empty := empty_result(response, body)) is not None:
            raise empty
        units = billable_units(response)
        return Result(outputs=outputs or (Output(url=None, value=body),), raw=body, billable_units=units)

    # -- errors -------------------------------------------------------------------------------------

    def error_from_response(
        self, response: httpx.Response, *, model: str | None = None, key: Key | None = None
    ) -> GenctlError:
        body = read_error_body(response)
        request_id = request_id_of(response)
        err = _fal_error(response, body, model=model, key=key, request_id=request_id)
        err = err or common_error(response, body, provider=self.name, request_id=request_id)
        err = err or fallback_error(body, provider=self.name, request_id=request_id)
        return scrub(err, key)

    def error_from_status(self, job: Job, status: JobStatus) -> GenctlError:
        said = status.error or "no reason given"
        where = f"{job.model} (request {job.request_id})"
        if status.state == "failed" and is_infra_error_type(status.error_type) and status.error_type:
            # A COMPLETED status with a request-error type: fal's side failed, not the model's input.
            # UNVERIFIED: whether such a status also carries X-Fal-Request-Timeout-Type; the result GET does.
            return infra_error(
                status.error_type,
                f"{where}: {said}",
                user_timeout=False,
                status=None,
                request_id=job.request_id,
                job_ran=True,
            )
        if status.error_type == "content_policy_violation":
            return error(
                "content.policy",
                f"fal refused {where} under its content policy: {said}",
                fix="Rephrase the prompt or change the input image; retrying unchanged will fail again.",
                provider=self.name,
                request_id=job.request_id,
            )
        if status.state == "canceled" or status.error_type in CANCEL_ERROR_TYPES:
            return error(
                "generation.canceled",
                f"The fal job {where} was cancelled{f': {status.error}' if status.error else ''}.",
                fix="Run the command again.",
                provider=self.name,
                request_id=job.request_id,
            )
        return error(
            "generation.failed",
            f"fal job {where} failed{f' ({status.error_type})' if status.error_type else ''}: {said}",
            fix="The model ran and failed: check the inputs, or retry; server errors are not charged.",
            provider=self.name,
            request_id=job.request_id,
            details={"error_type": status.error_type} if status.error_type else None,
        )


def _fal_error(
    response: httpx.Response, body: ErrorBody, *, model: str | None, key: Key | None, request_id: str | None
) -> GenctlError | None:
    """The fal-specific rows of fal-api.md §2.2/§2.3; None falls through to the shared mapping."""
    status = response.status_code
    said = body.message
    who = f"key {key}" if key is not None else "the request"

    make = maker("fal", status, request_id)

    if status == 401:
        # The platform API answers a colon-less key with a generic "Invalid API key": the shape says more.
        if "Invalid Key Authorization header format" in said or (key is not None and ":" not in key.reveal()):
            return make(
                "key.format",
                f"fal rejected the format of {who}: {said}",
                f"A fal key is '<key_id>:<key_secret>' (both halves, one colon); copy the whole key "
                f"from {_KEYS_URL}.",
            )
        if key is None:
            return make(
                "key.missing",
                f"fal needs a key (HTTP 401): {said}",
                "Set FAL_KEY to '<key_id>:<key_secret>' (create one at fal.ai/dashboard/keys).",
            )
        return make(
            "key.invalid",
            f"fal does not know {who}: {said}",
            f"The key is wrong, revoked, or has stray whitespace; create one at {_KEYS_URL}.",
        )
    if status == 403 and body.is_json:
        if "User is locked" in said:
            if "admin" in said.lower():
                fix = "An admin lock: contact support@fal.ai. A new key of the same account won't help."
            else:
                fix = "Top up at fal.ai/dashboard/billing; a new key of the same account won't help."
            return make("key.locked", f"fal locked the account of {who}: {said}", fix)
        return make(
            "key.scope",
            f"fal refused {who} for this call (HTTP 403): {said}",
            f"This call needs an ADMIN-scoped key; create one at {_KEYS_URL} (scope ADMIN).",
        )
    if status == 402:
        return make(
            "billing.required",
            f"fal wants payment (HTTP 402): {said}",
            "Add credit at fal.ai/dashboard/billing.",
        )
    if (request_err := request_error(response, body, request_id=request_id)) is not None:
        return request_err
    if status == 404:
        return _not_found(response, body, model=model, make=make, request_id=request_id)
    if status in (400, 422):
        if any(f.get("type") == "content_policy_violation" for f in body.fields) or (
            body.type == "content_policy_violation"
        ):
            return make(
                "content.policy",
                f"fal refused the input under its content policy: {said}",
                "Rephrase the prompt or change the input; retrying unchanged will fail again.",
            )
        message = f"The model {model or ''} rejected the input: {fields_message(body.fields) or said}"
        return make(
            "payload.invalid",
            " ".join(message.split()),
            "Fix the listed parameters (-p NAME=VALUE); see the model's input schema.",
            fields=list(body.fields),
        )
    return None


def _not_found(
    response: httpx.Response,
    body: ErrorBody,
    *,
    model: str | None,
    make: Callable[..., GenctlError],
    request_id: str | None,
) -> GenctlError:
    if (match := _APP_NOT_FOUND.search(body.message)) is not None:
        app_name = match.group(1)
        fix = "fal ids are owner/app[/path]; check the id at fal.ai/models."
        if model:
            app, _ = split_endpoint(model)
            if candidates := app_splits(model, app):
                fix = (
                    f"fal reads '{app_name}' as the app name; did you mean {' or '.join(candidates)}? " + fix
                )
        return make("model.not_found", f"fal has no application '{app_name}' ({body.message}).", fix)
    if (wrong_path := path_not_found(response, body.message, model=model, request_id=request_id)) is not None:
        return wrong_path
    path = request_path(response)
    if "/requests/" in path:
        # Results are kept 1 h, only 6 min when ≥10 KB (fal-api.md §1.1).
        return make(
            "output.expired",
            f"fal no longer holds this request: {body.message}",
            "fal keeps results 1 h (6 min when large); run the generation again.",
        )
    return make(
        "model.not_found",
        f"fal has no endpoint {model or path!r}: {body.message}",
        "Check the endpoint id (owner/app/path) at fal.ai/models.",
    )


def extract_outputs(body: Any) -> list[Output]:
    """Every output file in a fal result: `images[]`, `image`, `video`, `audio*`, any `{url, content_type}`"""
    found: list[Output] = []
    seen: set[str] = set()
    budget = [_MAX_NODES]

    def add(url: str, content_type: Any = None, file_name: Any = None) -> None:
        if url not in seen:
            seen.add(url)
            found.append(
                Output(url=url, content_type=str_or_none(content_type), file_name=str_or_none(file_name))
            )

    def walk(node: Any, parent: str | None, depth: int) -> None:
        budget[0] -= 1
        if depth > _MAX_DEPTH or budget[0] < 0:
            return
        if isinstance(node, dict):
            url = node.get("url")
            if (
                isinstance(url, str)
                and _is_url(url)
                and (parent in _MEDIA_KEYS or any(m in node for m in _FILE_MARKERS))
            ):
                add(url, node.get("content_type"), node.get("file_name"))
                return
            for name, value in node.items():
                if depth <= 1 and isinstance(value, str) and name.endswith("_url") and _is_url(value):
                    add(value)  # e.g. {"audio_url": "https://…"} at the top of the result
                else:
                    walk(value, str(name), depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, parent, depth + 1)

    walk(body, None, 0)
    return found


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://", "data:"))
