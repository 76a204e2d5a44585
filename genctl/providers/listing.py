"""The providers' own lists of recent requests, as pure request building and response parsing.

Replicate: `GET /v1/predictions` (newest first, 100 a page, absolute `next` URL, `created_after`;
replicate-api.md §1.5). fal (fal-platform-openapi.json): `GET /models/requests/by-endpoint?endpoint_id=…`
(required; `start` defaults to 24 h ago, 90 days with `request_id`; `limit` ≤ 100; answers `items`) and
`GET /models/requests/search` (every endpoint, newest first; no time filter; answers `results`); both page
with `next_cursor` and `has_more`. The answers are parsed defensively: a field of the wrong type is
None, an item without an id is skipped, never an exception; a body that is not an object is
provider.unavailable.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genctl.providers._common import json_object, str_or_none
from genctl.providers.base import Job
from genctl.providers.fal import FalProvider, split_endpoint
from genctl.providers.replicate import ReplicateProvider
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.values import Key

REPLICATE_PAGE = 100  # the listing's fixed page size (replicate-api.md §1.5)
FAL_PAGE = 50  # the by-endpoint default `limit` (fal-platform-openapi.json)
FAL_MAX_PAGE = 100  # by-endpoint's maximum; search's "depends on query type": genctl asks no more there
# fal's status_code -> a genctl status. UNVERIFIED: fal documents no mapping; the sandbox assumes 2xx success.
_FAL_SUCCESS = range(200, 300)


@dataclass(frozen=True)
class RemoteRequest:
    """One request as the provider lists it: enough to show it and to fetch its result."""

    provider: str
    request_id: str
    model: str | None
    status: str  # succeeded, failed, canceled, pending (starting/processing/in queue), or the provider's word
    created_at: str | None  # ISO 8601 as the provider wrote it
    ended_at: str | None
    input: dict[str, Any] | None = field(default=None, compare=False)  # fal `json_input` (expand=payloads)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "request_id": self.request_id,
            "model": self.model,
            "status": self.status,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
        }


@dataclass(frozen=True)
class Page:
    """One page of a listing and where the next one is (None: this was the last)."""

    requests: tuple[RemoteRequest, ...]
    next: str | None  # Replicate: an absolute URL; fal: an opaque cursor


# -- Replicate -------------------------------------------------------------------------------------------


def replicate_list_request(
    api_url: str, key: Key, *, next_url: str | None = None, created_after: str | None = None
) -> HttpRequest:
    """The first page (the predictions created at or after `created_after`, ISO 8601), or the page at a
    `next` URL the previous answer gave, followed as given. UNVERIFIED: that Replicate's `next` keeps the
    filter (the sandbox's does); the caller filters by time again, so either answer is handled."""
    if next_url:
        return HttpRequest("GET", next_url, headers=ReplicateProvider.headers(key), idempotent=True)
    params = {"created_after": created_after} if created_after else None
    url = f"{api_url.rstrip('/')}/predictions"
    return HttpRequest("GET", url, headers=ReplicateProvider.headers(key), params=params, idempotent=True)


def replicate_get_request(api_url: str, key: Key, prediction_id: str) -> HttpRequest:
    url = f"{api_url.rstrip('/')}/predictions/{prediction_id}"
    return HttpRequest("GET", url, headers=ReplicateProvider.headers(key), idempotent=True)


_REPLICATE_STATUS = {"starting": "pending", "processing": "pending", "succeeded": "succeeded"}
_REPLICATE_STATUS |= {"failed": "failed", "canceled": "canceled", "aborted": "failed"}


def parse_replicate_page(provider: str, response: httpx.Response) -> Page:
    body = json_object(provider, response, "prediction list")
    found = []
    for item in _list(body.get("results")):
        if not isinstance(item, dict) or (rid := str_or_none(item.get("id"))) is None:
            continue
        said = str_or_none(item.get("status")) or "unknown"
        found.append(
            RemoteRequest(
                provider,
                rid,
                _replicate_model(item),
                _REPLICATE_STATUS.get(said, said),
                str_or_none(item.get("created_at")),
                str_or_none(item.get("completed_at")),
            )
        )
    return Page(tuple(found), str_or_none(body.get("next")))


def _replicate_model(item: dict[str, Any]) -> str | None:
    # `model` is `owner/name` (the version is the prediction's, and `genctl result` needs only the id).
    return str_or_none(item.get("model")) or str_or_none(item.get("version"))


# -- fal -------------------------------------------------------------------------------------------------


def fal_list_request(
    api_url: str,
    key: Key,
    endpoint_id: str,
    *,
    cursor: str | None = None,
    request_id: str | None = None,
    limit: int = FAL_PAGE,
    start: str | None = None,
    payloads: bool = False,
) -> HttpRequest:
    """One page of an endpoint's requests since `start` (ISO 8601; fal's default: 24 h ago); with
    `request_id`, the one request (fal then looks 90 days back); `payloads` adds each one's input."""
    params = {"endpoint_id": endpoint_id, "limit": str(_page_size(limit))}
    if cursor:
        params["cursor"] = cursor
    if request_id:
        params["request_id"] = request_id
    if start:
        params["start"] = start
    if payloads:
        params["expand"] = "payloads"
    url = f"{api_url.rstrip('/')}/models/requests/by-endpoint"
    return HttpRequest("GET", url, headers=FalProvider.headers(key), params=params, idempotent=True)


def fal_search_request(
    api_url: str, key: Key, *, cursor: str | None = None, limit: int = FAL_PAGE
) -> HttpRequest:
    """One page of the account's requests on every endpoint, newest first (search's "filtered browse":
    no `query`). It takes no time range: `--since` is applied by the caller."""
    params = {"limit": str(_page_size(limit))}
    if cursor:
        params["cursor"] = cursor
    url = f"{api_url.rstrip('/')}/models/requests/search"
    return HttpRequest("GET", url, headers=FalProvider.headers(key), params=params, idempotent=True)


def fal_job(provider: FalProvider, endpoint_id: str, request_id: str, key: Key) -> Job:
    """The queue URLs of a request genctl did not submit: owner/app only (fal-api.md §1.2)."""
    app, _ = split_endpoint(endpoint_id)
    base = f"{provider.queue_url}/{app}/requests/{urllib.parse.quote(request_id, safe='')}"
    return Job(provider.name, endpoint_id, request_id, f"{base}/status", base, f"{base}/cancel", key.label)


def _page_size(limit: int) -> int:
    return min(max(limit, 1), FAL_MAX_PAGE)


def parse_fal_page(provider: str, response: httpx.Response) -> Page:
    """A by-endpoint (`items`) or search (`results`) answer: the two list the same item shape."""
    body = json_object(provider, response, "request list")
    found = []
    listed = body.get("items") if "items" in body else body.get("results")
    for item in _list(listed):
        if not isinstance(item, dict) or (rid := str_or_none(item.get("request_id"))) is None:
            continue
        code, ended = item.get("status_code"), str_or_none(item.get("ended_at"))
        if ended is None or not isinstance(code, int):
            status = "pending"
        else:
            status = "succeeded" if code in _FAL_SUCCESS else "failed"
        given = item.get("json_input")
        found.append(
            RemoteRequest(
                provider,
                rid,
                str_or_none(item.get("endpoint_id")),
                status,
                str_or_none(item.get("sent_at")) or str_or_none(item.get("started_at")),
                ended,
                given if isinstance(given, dict) else None,
            )
        )
    more = body.get("has_more") is True
    return Page(tuple(found), str_or_none(body.get("next_cursor")) if more else None)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
