"""fal's own record of what was billed: `GET /v1/models/billing-events` (ADMIN key; fal-api.md §3.2 and
fal-platform-openapi.json). Pure: request building and response parsing, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from genctl.http import json_body
from genctl.providers.fal import FalProvider
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.values import Key

PAGE = 100  # events a page (UNVERIFIED: the spec's maximum page size; the sandbox takes it)
MAX_PAGES = 20  # 2,000 billed requests: past that genctl says it stopped reading


@dataclass(frozen=True)
class BilledEvent:
    """One billed request as fal reports it."""

    request_id: str
    endpoint_id: str
    amount: float  # cost_total, USD
    units: float | None


def billing_events_request(
    api_url: str, key: Key, *, start: float, end: float, cursor: str | None = None
) -> HttpRequest:
    params: dict[str, Any] = {"start": _iso(start), "end": _iso(end), "limit": PAGE}
    if cursor:
        params["cursor"] = cursor
    url = f"{api_url.rstrip('/')}/models/billing-events"
    return HttpRequest("GET", url, headers=FalProvider.headers(key), params=params, idempotent=True)


def needs_admin(response: httpx.Response) -> bool:
    """The platform API's answer to an API-scoped key on an ADMIN route: 403 (the spec's `adminApiKey`)."""
    return response.status_code == 403


def parse_billing_events(response: httpx.Response) -> tuple[list[BilledEvent], str | None]:
    """`{"billing_events": [...], "next_cursor", "has_more"}` as events and the next page's cursor."""
    body = json_body(response)
    events: list[BilledEvent] = []
    items = body.get("billing_events") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
            continue
        amount = _number(item.get("cost_total"))
        if amount is None:  # UNVERIFIED: an event without cost_total; the nano-USD estimate stands in
            nano = _number(item.get("cost_estimate_nano_usd"))
            amount = nano / 1e9 if nano is not None else None
        if amount is None:
            continue
        events.append(
            BilledEvent(
                request_id=item["request_id"],
                endpoint_id=str(item.get("endpoint_id") or ""),
                amount=amount,
                units=_number(item.get("output_units")),
            )
        )
    more = isinstance(body, dict) and body.get("has_more") is True
    cursor = body.get("next_cursor") if isinstance(body, dict) else None
    return events, (cursor if more and isinstance(cursor, str) and cursor else None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
