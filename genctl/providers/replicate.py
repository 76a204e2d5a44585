"""Replicate: prediction requests and responses, file uploads and error mapping, as pure functions."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

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
from genctl.providers.base import Job, JobStatus, Output, Result, State
from genctl.providers.replicate_wire import file_output, first_url, is_empty_output, sent_auth
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.settings import ProviderSettings
    from genctl.values import Key

DEFAULT_API_URL = registry.REPLICATE.default_urls["api_url"]
_VERSION = re.compile(r"^[0-9a-f]{64}$")
_PREDICTION_PATH = re.compile(r"/predictions/([^/]+)")
# Prediction status -> genctl state (replicate-api.md §1.4). `aborted` is unknown to SDK 1.0.7 (§5.5).
_STATES: dict[str, State] = {
    "starting": "queued",
    "processing": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
    "aborted": "aborted",
}
_MAX_DEPTH = 6
_TOKENS_URL = "https://replicate.com/account/api-tokens"


def parse_model_ref(model: str) -> tuple[str | None, str | None, str | None]:
    """`(owner, name, version)` of `owner/name`, `owner/name:version` or a bare 64-hex version id."""
    ref = model.strip()
    if _VERSION.match(ref):
        return None, None, ref
    path, _, version = ref.partition(":")
    owner, _, name = path.partition("/")
    if not owner or not name or "/" in name or (":" in ref and not version):
        other = registry.detect(ref)
        elsewhere = (
            f" {ref} is a {registry.label(other)} id: run it there with --provider {other}."
            if other is not None and other != "replicate"
            else ""
        )
        raise error(
            "model.not_found",
            f"{model!r} is not a Replicate model id.",
            fix=f"Replicate ids are owner/name (official models) or owner/name:<version id>.{elsewhere}",
            provider="replicate",
        )
    return owner, name, version or None


def cancel_after(deadline: float) -> str:
    """A `Cancel-After` value: whole seconds, at least the server's minimum of 5 (replicate-api.md §1.3)."""
    return f"{max(5, math.ceil(deadline))}s"


def held_seconds(wait: float | None) -> int | None:
    """The N of `Prefer: wait=N`: whole seconds, at most the server's 60 (§1.2); None under 1 s."""
    if wait is None or not math.isfinite(wait) or wait < 1:
        return None
    return min(60, math.floor(wait))


class ReplicateProvider:
    """Replicate's predictions API (replicate-api.md §1) and Files API (§4)."""

    name = "replicate"

    def __init__(self, *, api_url: str = DEFAULT_API_URL, wait: int | None = None) -> None:
        if wait is not None and not 1 <= wait <= 60:
            raise error("usage.invalid", f"Prefer: wait={wait} is out of range.", fix="Use 1 to 60 seconds.")
        self.api_url = api_url.rstrip("/")
        self.wait = wait  # hold the submit connection up to this many seconds (Prefer: wait=N, §1.2)

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> ReplicateProvider:
        return cls(api_url=settings.urls.get("api_url") or DEFAULT_API_URL)

    def __repr__(self) -> str:
        return f"ReplicateProvider(api_url={self.api_url!r})"

    # -- requests -----------------------------------------------------------------------------------

    @staticmethod
    def headers(key: Key) -> dict[str, str]:
        return {"Authorization": f"Bearer {key.sendable()}", "Accept": "application/json"}

    def submit_request(
        self,
        *,
        model: str,
        params: dict[str, Any],
        key: Key,
        deadline: float | None = None,
        wait: float | None = None,
    ) -> HttpRequest:
        """The create; with `wait`, `Prefer: wait=N` (whole seconds, 1 to 60; under 1 s: none) holds the
        answer until the prediction ends or N s pass (§1.2), and the read timeout leaves room for it."""
        owner, name, version = parse_model_ref(model)
        headers = self.headers(key)
        held = held_seconds(wait if wait is not None else self.wait)
        if held is not None:
            headers["Prefer"] = f"wait={held}"
        if deadline is not None:
            headers["Cancel-After"] = cancel_after(deadline)  # the server stops billing at the deadline
        timeout = held + 10.0 if held is not None else None
        if version is None:
            # Official models: no version in the body (the schema forbids extra keys, §1.1).
            url = f"{self.api_url}/models/{owner}/{name}/predictions"
            return HttpRequest("POST", url, headers=headers, json={"input": params}, timeout=timeout)
        body = {"version": version, "input": params}
        return HttpRequest("POST", f"{self.api_url}/predictions", headers=headers, json=body, timeout=timeout)

    def status_request(self, job: Job, *, key: Key, logs: bool = True) -> HttpRequest:
        return HttpRequest("GET", job.status_url, headers=self.headers(key), idempotent=True)

    def status_stream_request(self, job: Job, *, key: Key, logs: bool = True) -> HttpRequest | None:
        return None  # no status stream: `urls.stream` carries output tokens, not the prediction status

    def result_request(self, job: Job, *, key: Key) -> HttpRequest | None:
        return None  # the terminal prediction carries its output

    def cancel_request(self, job: Job, *, key: Key) -> HttpRequest | None:
        url = job.cancel_url or f"{self.api_url}/predictions/{job.request_id}/cancel"
        return HttpRequest("POST", url, headers=self.headers(key), idempotent=True)

    def upload_request(
        self, *, file_name: str, data: bytes | BinaryIO, content_type: str, key: Key
    ) -> HttpRequest:
        """`POST /files` multipart (part `content`, §4); uploads are free, so retrying is safe."""
        files = {"content": (file_name, data, content_type)}
        return HttpRequest(
            "POST", f"{self.api_url}/files", headers=self.headers(key), files=files, idempotent=True
        )

    def download_headers(self, url: str, *, key: Key) -> dict[str, str]:
        # Output files may need the token (§1.6); send it only to Replicate's hosts (or the configured API's).
        host = urlsplit(url).hostname or ""
        own = {urlsplit(self.api_url).hostname, "replicate.delivery"}
        if host in own or host.endswith(".replicate.delivery"):
            return {"Authorization": f"Bearer {key.sendable()}"}
        return {}

    # -- responses ----------------------------------------------------------------------------------

    def parse_submit(self, response: httpx.Response, *, model: str, key: Key) -> tuple[Job, JobStatus]:
        body = _prediction(response)
        prediction_id = str(body["id"])
        urls = _dict(body.get("urls"))
        base = f"{self.api_url}/predictions/{prediction_id}"
        job = Job(
            provider=self.name,
            model=model,
            request_id=prediction_id,
            status_url=same_host(urls.get("get"), self.api_url) or base,
            cancel_url=same_host(urls.get("cancel"), self.api_url) or f"{base}/cancel",
            key_label=key.label,
        )
        return job, status_from_prediction(body)

    def parse_status(self, response: httpx.Response) -> JobStatus:
        return status_from_prediction(_prediction(response))

    def parse_result(self, response: httpx.Response) -> Result:
        body = _prediction(response)
        status = status_from_prediction(body)
        if status.state == "succeeded" and is_empty_output(body.get("output")):
            # A success with nothing in it (output null, "", [] or only empty chunks) is no success.
            # UNVERIFIED: no cassette shows one (data_removed predictions are caught before, as expired).
            raise maker(self.name, response.status_code, str(body["id"]))(
                "generation.failed",
                f"Replicate reported prediction {body['id']} succeeded, but its output is empty.",
                "Run it again; if it keeps happening, check the model's page on replicate.com.",
            )
        return Result(outputs=status.outputs or (), raw=body)

    def parse_upload(self, response: httpx.Response) -> str:
        """The URL to pass as a model input: the uploaded file's `urls.get` (§4)."""

        body = json_body(response)
        urls = body.get("urls") if isinstance(body, dict) else None
        url = urls.get("get") if isinstance(urls, dict) else None
        if not isinstance(url, str) or not url:
            raise malformed(self.name, response, "the upload answer has no urls.get")
        return url

    # -- errors -------------------------------------------------------------------------------------

    def error_from_response(
        self, response: httpx.Response, *, model: str | None = None, key: Key | None = None
    ) -> GenctlError:
        body = read_error_body(response)
        match = _PREDICTION_PATH.search(request_path(response))
        request_id = match.group(1) if match else None
        err = _replicate_error(response, body, model=model, key=key, request_id=request_id)
        err = err or common_error(response, body, provider=self.name, request_id=request_id)
        err = err or fallback_error(body, provider=self.name, request_id=request_id)
        return scrub(err, key)

    def error_from_status(self, job: Job, status: JobStatus) -> GenctlError:
        where = f"{job.model} (prediction {job.request_id})"
        said = status.error or "no reason given"

        make = maker(self.name, None, job.request_id)

        if status.data_removed:
            return make(
                "output.expired",
                f"Replicate deleted the outputs of {where}.",
                "API predictions keep outputs 1 hour: download right away, or run it again.",
            )
        if status.state == "aborted":
            return make(
                "generation.aborted",
                f"Replicate aborted {where} before it started (its deadline passed).",
                "Nothing was charged; raise --timeout or retry when the model is warm.",
            )
        if status.state == "canceled":
            return make(
                "generation.canceled",
                f"The prediction {where} was cancelled.",
                "Run the command again (with a larger --timeout if a deadline cancelled it).",
            )
        if "nsfw" in said.lower():
            return make(
                "content.policy",
                f"Replicate flagged the output of {where}: {said}",
                "Rephrase the prompt or change the inputs; retrying unchanged may fail again.",
            )
        return make(
            "generation.failed",
            f"The prediction {where} failed: {said}",
            "The model ran and failed: check the inputs and the model's page, then retry.",
        )


def _replicate_error(
    response: httpx.Response, body: ErrorBody, *, model: str | None, key: Key | None, request_id: str | None
) -> GenctlError | None:
    """Replicate's rows of replicate-api.md §2.3; None falls through to the generic fallback."""
    status = response.status_code
    said = body.message
    who = f"token {key}" if key is not None else "the request"

    make = maker("replicate", status, request_id)

    if status == 401:
        if key is None or not sent_auth(response) or "did not pass an authentication token" in said:
            return make(
                "key.missing",
                f"Replicate got no token (HTTP 401): {said}",
                f"Set REPLICATE_API_TOKEN (create a token at {_TOKENS_URL}).",
            )
        return make(
            "key.invalid",
            f"Replicate does not accept {who}: {said}",
            f"The token is wrong or disabled; create one at {_TOKENS_URL}.",
        )
    if status == 402:
        url = first_url(said) or "https://replicate.com/account/billing#billing"
        if (body.title or "").lower().startswith("insufficient credit"):
            fix = f"Buy credit at {url}, then wait a few minutes; a key of another account may work now."
        else:
            fix = f"Set up billing at {url}, then wait a few minutes; a key of another account may work now."
        return make(
            "billing.required", f"Replicate: {body.title or 'payment required'} (HTTP 402): {said}", fix
        )
    if status == 403 and body.is_json:
        return make(
            "key.scope",
            f"Replicate refused {who} for this call (HTTP 403): {said}",
            "The token's account may not use this model or resource.",
        )
    if status == 404:
        path = request_path(response)
        if request_id is not None and "/models/" not in path:
            return make(
                "output.expired",
                f"Replicate has no prediction {request_id}: {said}",
                "It was deleted or belongs to another account's token.",
            )
        return make(
            "model.not_found",
            f"Replicate has no model {model or path!r} (HTTP 404): {said}",
            "Check the id at replicate.com; non-official models need owner/name:<version>.",
        )
    if status == 422 and (
        "invalid version" in (body.title or "").lower() or "version does not exist" in said
    ):
        return _version_error(model, said, make)
    if status in (400, 413, 422):
        listed = fields_message(body.fields)
        message = f"The model {model or ''} rejected the input: {listed or said}"
        return make(
            "payload.invalid",
            " ".join(message.split()),
            "Fix the listed parameters (-p NAME=VALUE); see the model's input schema.",
            fields=list(body.fields),
        )
    return None


def _version_error(model: str | None, said: str, make: Callable[..., GenctlError]) -> GenctlError:
    owner, name, version = parse_model_ref(model) if model else (None, None, None)
    page = f"https://replicate.com/{owner}/{name}/versions" if owner else "the model's page on replicate.com"
    if model and version is None:
        return make(
            "model.needs_version",
            f"{model} needs a version: {said}",
            f"It is not an official model: run it as {model}:<version id> (ids at {page}).",
        )
    return make(
        "model.not_found",
        f"Replicate has no version {version or model!r} you may use: {said}",
        f"The version id is wrong, deleted or private; pick one at {page}.",
    )


def status_from_prediction(body: dict[str, Any]) -> JobStatus:
    """The JobStatus of a prediction object; outputs only once the status is terminal (§1.2)."""
    raw = body.get("status")
    state = _STATES.get(raw) if isinstance(raw, str) else None
    if state is None:
        raise error(
            "provider.unavailable",
            f"Replicate reported an unknown prediction status {raw!r}.",
            fix="Update genctl; if it persists, report it.",
            provider="replicate",
            request_id=str_or_none(body.get("id")),
        )
    terminal = state in ("succeeded", "failed", "canceled", "aborted")
    text = body.get("logs") or ""
    text = text if isinstance(text, str) else ""
    lines = text.splitlines()
    if lines and not terminal and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line is still being written
    return JobStatus(
        state=state,
        logs=tuple(line for line in lines if line.strip()),
        outputs=outputs_from(body.get("output")) if state == "succeeded" else None,
        error=str_or_none(body.get("error")) or (str(body["error"]) if body.get("error") else None),
        data_removed=bool(body.get("data_removed")),
        metrics=_dict(body.get("metrics")),
    )


def outputs_from(value: Any) -> tuple[Output, ...]:
    """Output files from a prediction's `output`: a URL, a list of URLs, data: URIs; else one plain value."""
    if value is None:
        return ()
    urls: list[str] = []

    def walk(node: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(node, str) and node.startswith(("https://", "http://", "data:")):
            urls.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item, depth + 1)

    walk(value, 0)
    if not urls:
        return (Output(url=None, value=value),)
    return tuple(file_output(url) for url in dict.fromkeys(urls))


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _prediction(response: httpx.Response) -> dict[str, Any]:
    body = json_object("replicate", response, "prediction")
    if not isinstance(body.get("id"), str) or "status" not in body:
        raise malformed("replicate", response, "the answer is not a prediction object")
    return body
