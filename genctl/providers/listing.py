"""The providers' own lists of recent requests, as pure request building and response parsing.

Replicate: `GET /v1/predictions` (newest first, 100 a page, absolute `next` URL; replicate-api.md §1.5).
fal: `GET /models/requests/by-endpoint?endpoint_id=…` (fal-api.md §3; `items`, `next_cursor`,
`has_more`). Both answers are parsed defensively: a field of the wrong type is None, an item without an
id is skipped, never an exception; a body that is not an object is provider.unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genctl.providers._common import json_object, str_or_none
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.values import Key

REPLICATE_PAGE = 100  # the listing's fixed page size (replicate-api.md §1.5)
FAL_PAGE = 50  # the by-endpoint default `limit` (fal-platform-openapi.json)
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


def replicate_list_request(api_url: str, key: Key, *, next_url: str | None = None) -> HttpRequest:
    """The first page, or the page at a `next` URL the previous answer gave (followed as given)."""
    url = next_url or f"{api_url.rstrip('/')}/predictions"
    return HttpRequest("GET", url, headers=ReplicateProvider.headers(key), idempotent=True)


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
) -> HttpRequest:
    """One page of an endpoint's requests; with `request_id`, the one request (fal looks 90 days back)."""
    params = {"endpoint_id": endpoint_id, "limit": str(limit)}
    if cursor:
        params["cursor"] = cursor
    if request_id:
        params["request_id"] = request_id
    url = f"{api_url.rstrip('/')}/models/requests/by-endpoint"
    return HttpRequest("GET", url, headers=FalProvider.headers(key), params=params, idempotent=True)


def parse_fal_page(provider: str, response: httpx.Response) -> Page:
    body = json_object(provider, response, "request list")
    found = []
    for item in _list(body.get("items")):
        if not isinstance(item, dict) or (rid := str_or_none(item.get("request_id"))) is None:
            continue
        code, ended = item.get("status_code"), str_or_none(item.get("ended_at"))
        if ended is None or not isinstance(code, int):
            status = "pending"
        else:
            status = "succeeded" if code in _FAL_SUCCESS else "failed"
        found.append(
            RemoteRequest(
                provider,
                rid,
                str_or_none(item.get("endpoint_id")),
                status,
                str_or_none(item.get("sent_at")) or str_or_none(item.get("started_at")),
                ended,
            )
        )
    more = body.get("has_more") is True
    return Page(tuple(found), str_or_none(body.get("next_cursor")) if more else None)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
