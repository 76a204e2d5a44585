"""The helpers both providers share: one shape for every error body, the mappings common to both
(Cloudflare, 429, 5xx), and small readers of JSON answers."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genctl.errors import GenctlError, error
from genctl.http import json_body, redact, retry_hint, scrub_error
from genctl.providers import registry
from genctl.timefmt import seconds

if TYPE_CHECKING:
    import httpx

    from genctl.values import Key

_MAX_MESSAGE = 400


@dataclass(frozen=True)
class ErrorBody:
    """What an error response said, whichever envelope it used (fal detail, fal platform, problem+json)."""

    status: int
    data: Any  # the decoded JSON, or None when the body is not JSON
    message: str  # the provider's own words (shortened)
    title: str | None = None
    type: str | None = None
    fields: tuple[dict[str, str], ...] = ()

    @property
    def is_json(self) -> bool:
        return self.data is not None


def read_error_body(response: httpx.Response) -> ErrorBody:
    """Decode an error response into one shape."""

    data = json_body(response)
    if not isinstance(data, dict):
        text = json.dumps(data) if data is not None else _plain(response.text)
        return ErrorBody(response.status_code, data, _short(text or f"HTTP {response.status_code}", response))
    title = str_or_none(data.get("title"))
    kind = str_or_none(data.get("error_type"))
    fields: tuple[dict[str, str], ...] = ()
    message = ""
    envelope = data.get("error")
    detail = data.get("detail")
    if isinstance(envelope, dict):  # fal Platform API: {"error": {"type", "message"}} (fal-api.md §2.3)
        message = str_or_none(envelope.get("message")) or ""
        kind = kind or str_or_none(envelope.get("type"))
    elif isinstance(envelope, str):
        message = envelope
    if isinstance(detail, list):  # fal / FastAPI validation: detail[].loc/msg/type (fal-api.md §2.2)
        fields = tuple(_fal_field(item) for item in detail if isinstance(item, dict))
        message = message or fields_message(fields)
    elif isinstance(detail, str):
        message = message or detail.strip()
    invalid = data.get("invalid_fields")
    if isinstance(invalid, list):  # Replicate problem+json (replicate-api.md §2.3)
        fields = tuple(_replicate_field(item) for item in invalid if isinstance(item, dict))
    if not message:
        message = title or json.dumps(data)
    message = _short(message, response)
    return ErrorBody(response.status_code, data, message, title=title, type=kind, fields=fields)


def fields_message(fields: tuple[dict[str, str], ...]) -> str:
    """`prompt: field required; steps: Must be less than or equal to 4` from field dicts."""
    parts = []
    for item in fields:
        name = item.get("field") or "(input)"
        parts.append(f"{name}: {item.get('message') or item.get('type') or 'invalid'}")
    return "; ".join(parts)


def is_cloudflare_block(response: httpx.Response, body: ErrorBody) -> bool:
    """A Cloudflare challenge or block page (fal-api.md §2.2 "Other 403 sources", replicate-api.md §2.3)."""
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    return response.status_code == 403 and not body.is_json and "cloudflare" in response.text.lower()


def common_error(
    response: httpx.Response, body: ErrorBody, *, provider: str, request_id: str | None
) -> GenctlError | None:
    """The mappings both providers share: Cloudflare, 429, 5xx. None when the status is provider-specific."""

    status = response.status_code
    label = _label(provider)
    if is_cloudflare_block(response, body):
        return error(
            "blocked.cloudflare",
            f"Cloudflare blocked the request to {label} (HTTP {status}); this is not a key problem.",
            fix="Retry later, from another network, or without a VPN/proxy; the key itself may be fine.",
            provider=provider,
            http_status=status,
            request_id=request_id,
        )
    if status == 429:
        wait = retry_hint(response)
        hint = f" Retry in {seconds(wait)}." if wait is not None else ""
        return error(
            "rate.limited",
            f"{label} is rate limiting this key (HTTP 429): {body.message}",
            fix=f"Wait and retry, lower the request rate, or add another key.{hint}",
            provider=provider,
            http_status=status,
            request_id=request_id,
            details={"retry_after": wait} if wait is not None else None,
        )
    if status >= 500:
        kind = body.type or response.headers.get("x-fal-error-type")
        return error(
            "provider.unavailable",
            f"{label} failed with HTTP {status}{f' ({kind})' if kind else ''}: {body.message}",
            fix=f"A server-side problem: retry in a minute, or check the {label} status page.",
            provider=provider,
            http_status=status,
            request_id=request_id,
            details={"error_type": kind} if kind else None,
        )
    return None


def fallback_error(body: ErrorBody, *, provider: str, request_id: str | None) -> GenctlError:
    """An HTTP error no rule knows: report it as the provider said it."""
    return error(
        "provider.unavailable",
        f"{_label(provider)} answered HTTP {body.status}: {body.message}",
        fix="Unexpected answer: check the provider URL settings, or retry with --debug to see the exchange.",
        provider=provider,
        http_status=body.status,
        request_id=request_id,
    )


def maker(provider: str, status: int | None, request_id: str | None) -> Callable[..., GenctlError]:
    """`make(code, message, fix, **details)` for one response: provider, status and request id filled in."""

    def make(code: str, message: str, fix: str, **details: Any) -> GenctlError:
        return error(
            code,
            message,
            fix=fix,
            provider=provider,
            http_status=status,
            request_id=request_id,
            details=details or None,
        )

    return make


def malformed(
    provider: str, response: httpx.Response, why: str, *, request_id: str | None = None
) -> GenctlError:
    """A 2xx answer that is not what the API documents: usually a proxy or gateway answering instead."""
    return error(
        "provider.unavailable",
        f"{_label(provider)} answered HTTP {response.status_code} but {why}.",
        fix=f"Check the {provider} URL settings (a proxy or gateway may be answering instead).",
        provider=provider,
        http_status=response.status_code,
        request_id=request_id,
    )


def json_object(
    provider: str, response: httpx.Response, what: str, *, request_id: str | None = None
) -> dict[str, Any]:
    """The response's JSON object body, or the provider.unavailable error saying it is not one."""

    body = json_body(response)
    if not isinstance(body, dict):
        raise malformed(provider, response, f"the {what} answer is not a JSON object", request_id=request_id)
    return body


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def request_path(response: httpx.Response) -> str:
    """The URL path the response answers, or "" for a hand-made response without a request."""
    try:
        return response.request.url.path
    except RuntimeError:
        return ""


def scrub(err: GenctlError, key: Key | None) -> GenctlError:
    """`err` with the key's secret masked should a server have echoed it back (it must never be shown)."""

    return err if key is None else scrub_error(err, [key])


def _label(provider: str) -> str:
    return registry.label(provider)


def _short(text: str, response: httpx.Response) -> str:
    # The key is masked before the cut: a cut inside an echoed key leaves a head no redaction knows (#12).
    text = redact(" ".join(text.split()), _sent_secrets(response))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _sent_secrets(response: httpx.Response) -> list[str]:
    """The secret the request that `response` answers carried, if any (a hand-made response has none)."""
    try:
        value = response.request.headers.get("authorization", "")
    except RuntimeError:
        return []
    return [value.partition(" ")[2]] if value else []


def _plain(text: str) -> str:
    """A non-JSON body as one readable line: the HTML <title> if any, else tags stripped."""
    if match := re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL):
        return html.unescape(match.group(1)).strip()
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def _fal_field(item: dict[str, Any]) -> dict[str, str]:
    loc = [str(part) for part in item.get("loc") or []]
    if loc and loc[0] in ("body", "query"):
        loc = loc[1:]
    return {"field": ".".join(loc), "message": str(item.get("msg", "")), "type": str(item.get("type", ""))}


def _replicate_field(item: dict[str, Any]) -> dict[str, str]:
    name = str(item.get("field", ""))
    description = str(item.get("description", ""))
    if item.get("type") == "required" and (missing := re.match(r"(\S+) is required", description)):
        # A missing field is reported on its parent ("field": "input", "prompt is required", §2.3).
        parent = name.removeprefix("input").strip(".")
        name = f"{parent}.{missing.group(1)}" if parent else missing.group(1)
    name = name.removeprefix("input.")
    return {"field": name, "message": description, "type": str(item.get("type", ""))}
