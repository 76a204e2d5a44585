"""api.fal.ai/v1 usage and history routes, fed by the jobs this sandbox ran (fal-platform-openapi.json):

    POST /models/pricing/estimate     API key     cost estimate for endpoints x calls or units
    GET  /models/usage                ADMIN key   usage line items (time_series and/or summary)
    GET  /models/billing-events       ADMIN key   one record per billed request (?request_id=, ?endpoint_id=)
    GET  /models/requests/by-endpoint API key     the account's requests for endpoint ids (?expand=payloads)
    GET  /models/requests/search      API key     the account's requests, newest first, optionally by text

Scopes follow each operation's `security` (`adminApiKey` vs `apiKey`) in the spec.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from genctl.sandbox.catalog import Json, fal_model, fal_models
from genctl.sandbox.fal_api_base import MAX_LIMIT, invalid, next_cursor, page, require_key, time_range
from genctl.sandbox.keys import KeyInfo
from genctl.sandbox.state import Context, Job, iso
from genctl.sandbox.wire import Request, Response, fal_platform_error, json_response

_BUCKETS = ("minute", "hour", "day", "week", "month")


@dataclass(frozen=True)
class Call:
    """One fal request as the platform API reports it."""

    job: Job
    phase: str
    units: float
    unit_price: float
    unit: str

    @property
    def status_code(self) -> int | None:
        if self.phase == "done":
            return self.job.outcome.status
        return 499 if self.phase in ("canceled", "aborted") else None

    @property
    def ended(self) -> float | None:
        return self.job.completed if self.phase not in ("queued", "running") else None

    def item(self, payloads: bool) -> Json:
        started = self.job.started or self.job.created
        out: Json = {
            "request_id": self.job.id,
            "endpoint_id": self.job.model,
            "started_at": iso(started),
            "sent_at": iso(self.job.created),
            "ended_at": iso(self.ended),
            "status_code": self.status_code,
            "duration": None if self.ended is None else round(self.ended - started, 4),
        }
        if payloads:
            out["json_input"] = self.job.input
            out["json_output"] = self.job.outcome.output if self.phase == "done" else None
        return out


def _calls(ctx: Context, info: KeyInfo) -> list[Call]:
    """The account's fal requests, newest first; billed units only for successful ones (§1.7)."""
    now = time.time()
    calls = []
    with ctx.store.lock:
        for job in ctx.store.jobs.values():
            if job.provider != "fal" or job.account != info.account:
                continue
            phase = job.observe(now, advance=False)
            model = fal_model(job.model)
            ok = phase == "done" and job.outcome.status == 200
            units = job.outcome.billable_units if ok else 0.0
            price, unit = (model.unit_price, model.unit) if model is not None else (0.0, "request")
            calls.append(Call(job, phase, units, price, unit))
    return sorted(calls, key=lambda c: c.job.created, reverse=True)


def _in_range(calls: list[Call], start: datetime, end: datetime) -> list[Call]:
    lo, hi = start.timestamp(), end.timestamp()
    return [c for c in calls if lo <= c.job.created < hi]


def _line(endpoint_id: str, unit: str, quantity: float, price: float) -> Json:
    cost = round(quantity * price, 6)
    return {
        "endpoint_id": endpoint_id,
        "unit": unit,
        "quantity": quantity,
        "unit_price": price,
        "percent_discount": None,  # the sandbox gives no discounts
        "cost_subtotal": cost,
        "cost_discount": 0,
        "cost_total": cost,
        "cost": cost,
        "currency": "USD",
    }


# `expand=auth_method` adds these to usage lines and billing events (spec). UNVERIFIED: the values; every
# sandbox request is made with an API key, and the sandbox keeps no key id to name in `api_key_id`.
_AUTH_METHOD: Json = {"auth_method": "API Key", "auth_method_structured": {"detail": "API Key"}}


def _lines(calls: list[Call], *, auth_method: bool = False) -> list[Json]:
    totals: dict[tuple[str, str, float], float] = {}
    for call in calls:
        if call.units > 0:
            key = (call.job.model, call.unit, call.unit_price)
            totals[key] = totals.get(key, 0.0) + call.units
    extra = _AUTH_METHOD if auth_method else {}
    return [
        {**_line(eid, unit, round(qty, 6), price), **extra}
        for (eid, unit, price), qty in sorted(totals.items())
    ]


def _bucket(ts: float, timeframe: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromtimestamp(ts, zone)
    if timeframe == "minute":
        return moment.replace(second=0, microsecond=0)
    if timeframe == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if timeframe == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if timeframe == "month" else day


def _auto_timeframe(start: datetime, end: datetime) -> str:
    """The spec's auto-detection: minute (<2h), hour (<2d), day (<64d), week (<183d), month."""
    span = end - start
    for limit, name in (
        (timedelta(hours=2), "minute"),
        (timedelta(days=2), "hour"),
        (timedelta(days=64), "day"),
    ):
        if span < limit:
            return name
    return "week" if span < timedelta(days=183) else "month"


def _endpoint_filter(req: Request, calls: list[Call], *, alias: str | None = None) -> list[Call] | Response:
    """`endpoint_id` (1-50, comma-separated or repeated); `alias` names a deprecated single-endpoint
    parameter the spec still honours when `endpoint_id` is absent (search's `endpoint`)."""
    wanted = req.args("endpoint_id") or (req.args(alias) if alias else [])
    if len(wanted) > 50:
        return invalid("At most 50 endpoint_id values are allowed")
    return [c for c in calls if c.job.model in wanted] if wanted else calls


def _usage(req: Request, ctx: Context) -> Response:
    info = require_key(req, ctx, admin=True)
    if isinstance(info, Response):
        return info
    span, paging = time_range(req), page(req)
    if isinstance(span, Response):
        return span
    if isinstance(paging, Response):
        return paging
    timeframe = req.arg("timeframe") or _auto_timeframe(*span)
    expand = req.args("expand") or ["time_series"]
    try:
        zone = ZoneInfo(req.arg("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return invalid("Invalid timezone")
    if timeframe not in _BUCKETS or (req.arg("bound_to_timeframe") or "true") not in ("true", "false"):
        return invalid("Invalid timeframe or bound_to_timeframe")
    calls = _endpoint_filter(req, _in_range(_calls(ctx, info), *span))
    if isinstance(calls, Response):
        return calls
    buckets: dict[datetime, list[Call]] = {}
    for call in calls:
        buckets.setdefault(_bucket(call.job.created, timeframe, zone), []).append(call)
    by_auth = "auth_method" in expand
    series = [
        {"bucket": b.isoformat(), "results": _lines(cs, auth_method=by_auth)}
        for b, cs in sorted(buckets.items())
    ]
    limit, number = paging
    chunk = series[(number - 1) * limit : number * limit]
    has_more = number * limit < len(series)
    body: Json = {"next_cursor": next_cursor(number, has_more), "has_more": has_more}
    if "time_series" in expand:
        body["time_series"] = chunk
    if "summary" in expand:
        body["summary"] = _lines(calls, auth_method=by_auth)
    return json_response(200, body)


def _billing_events(req: Request, ctx: Context) -> Response:
    info = require_key(req, ctx, admin=True)
    if isinstance(info, Response):
        return info
    wanted_ids = req.args("request_id")
    # A request id widens the default window (the spec says so for by-endpoint; UNVERIFIED here).
    span, paging = time_range(req, default_days=90 if wanted_ids else 1), page(req)
    if isinstance(span, Response):
        return span
    if isinstance(paging, Response):
        return paging
    calls = _endpoint_filter(req, _in_range(_calls(ctx, info), *span))
    if isinstance(calls, Response):
        return calls
    billed = [c for c in calls if c.units > 0 and (not wanted_ids or c.job.id in wanted_ids)]
    events = []
    for call in billed:
        cost = round(call.units * call.unit_price, 6)
        events.append(
            {
                "request_id": call.job.id,
                "endpoint_id": call.job.model,
                "timestamp": iso(call.ended or call.job.created),
                "output_units": call.units,
                "unit_price": call.unit_price,
                "percent_discount": None,
                "cost_subtotal": cost,
                "cost_discount": 0,
                "cost_total": cost,
                "cost_estimate_nano_usd": round(cost * 1e9),
                **(_AUTH_METHOD if "auth_method" in req.args("expand") else {}),
            }
        )
    limit, number = paging
    has_more = number * limit < len(events)
    body = {
        "billing_events": events[(number - 1) * limit : number * limit],
        "next_cursor": next_cursor(number, has_more),
        "has_more": has_more,
    }
    return json_response(200, body)


def _by_endpoint(req: Request, ctx: Context) -> Response:
    info = require_key(req, ctx, admin=False)
    if isinstance(info, Response):
        return info
    if not req.args("endpoint_id"):
        return invalid("endpoint_id is required")
    request_id, status = req.arg("request_id"), req.arg("status")
    # The spec's parameter schemas: `limit` at most 100, `request_id` a UUID. UNVERIFIED: that fal refuses
    # (400) rather than clamps or ignores; a validating server refuses, and the spec wins here.
    if (req.arg("limit") or "").isdigit() and int(req.arg("limit") or 0) > MAX_LIMIT:
        return invalid(f"limit must be at most {MAX_LIMIT}")
    if request_id is not None and not _is_uuid(request_id):
        return invalid("Invalid request_id: expected a UUID")
    span, paging = time_range(req, default_days=90 if request_id else 1), page(req, default=50)
    if isinstance(span, Response):
        return span
    if isinstance(paging, Response):
        return paging
    sort_by = req.arg("sort_by") or "ended_at"
    if sort_by not in ("ended_at", "duration") or status not in (None, "success", "error", "user_error"):
        return invalid("Invalid sort_by or status")
    calls = _endpoint_filter(req, _in_range(_calls(ctx, info), *span))
    if isinstance(calls, Response):
        return calls
    if request_id:
        calls = [c for c in calls if c.job.id == request_id]
    if status is not None:
        # UNVERIFIED: how fal maps status codes to these three: 2xx success, 4xx user_error, 5xx error.
        kinds = {"success": range(200, 300), "user_error": range(400, 500), "error": range(500, 600)}
        calls = [c for c in calls if c.status_code is not None and c.status_code in kinds[status]]
    if sort_by == "duration":
        calls.sort(key=lambda c: -(c.item(False)["duration"] or 0.0))
    else:
        calls.sort(key=lambda c: -(c.ended or float("inf")))
    return _paged_items(req, calls, paging, "items")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _search(req: Request, ctx: Context) -> Response:
    info = require_key(req, ctx, admin=False)
    if isinstance(info, Response):
        return info
    paging = page(req)
    if isinstance(paging, Response):
        return paging
    try:
        minimum = float(req.arg("min_similarity") or 0)
    except ValueError:
        return invalid("Invalid min_similarity")
    flags = [req.arg(n) for n in ("exclude_api_requests", "only_api_requests")]
    if any(f not in (None, "true", "false") for f in flags) or not 0 <= minimum <= 1:
        return invalid("Invalid boolean or min_similarity")
    if flags == ["true", "true"]:
        return invalid("exclude_api_requests and only_api_requests are mutually exclusive")
    probes = [p for p in (req.arg("query"), req.arg("image_url"), req.arg("video_url")) if p]
    if len(probes) > 1:
        return invalid("query, image_url and video_url are mutually exclusive")
    calls = _endpoint_filter(req, _calls(ctx, info), alias="endpoint")
    if isinstance(calls, Response):
        return calls
    if req.arg("exclude_api_requests") == "true":
        calls = []  # every sandbox request came through the API
    if not probes:
        return _paged_items(req, calls, paging, "results")
    # UNVERIFIED: fal searches by AI embeddings; the sandbox scores the share of query words found in the
    # request's input and output (an image/video URL matches the request that produced or used it).
    words = probes[0].lower().split()
    scored: list[tuple[float, Call]] = []
    for call in calls:
        text = json.dumps([call.job.input, call.job.outcome.output]).lower()
        score = sum(w in text for w in words) / len(words)
        if score > 0 and score >= minimum:
            scored.append((round(score, 4), call))
    scored.sort(key=lambda pair: -pair[0])
    return _paged_items(req, [c for _, c in scored], paging, "results", [s for s, _ in scored])


def _paged_items(
    req: Request,
    calls: list[Call],
    paging: tuple[int, int],
    key: str,
    similarity: list[float] | None = None,
) -> Response:
    limit, number = paging
    payloads = "payloads" in req.args("expand")
    window = range((number - 1) * limit, min(number * limit, len(calls)))
    items = []
    for i in window:
        item = calls[i].item(payloads)
        if similarity is not None:
            item["similarity"] = similarity[i]
        items.append(item)
    has_more = number * limit < len(calls)
    return json_response(
        200, {key: items, "next_cursor": next_cursor(number, has_more), "has_more": has_more}
    )


def _estimate(req: Request, ctx: Context) -> Response:
    info = require_key(req, ctx, admin=False)
    if isinstance(info, Response):
        return info
    try:
        body: Any = req.json()
    except (ValueError, UnicodeDecodeError):
        return invalid("Request body must be JSON")
    kind = body.get("estimate_type") if isinstance(body, dict) else None
    endpoints = body.get("endpoints") if isinstance(body, dict) else None
    field = {"historical_api_price": "call_quantity", "unit_price": "unit_quantity"}.get(str(kind))
    if field is None or not isinstance(endpoints, dict) or not endpoints:
        return invalid("estimate_type must be historical_api_price or unit_price, with endpoints")
    prices = {m.endpoint_id: m.unit_price for m in fal_models()}
    total = 0.0
    for endpoint_id, spec in endpoints.items():
        quantity = spec.get(field) if isinstance(spec, dict) else None
        # The spec: call_quantity an integer >= 1, unit_quantity a number >= 0.000001.
        whole = field == "call_quantity"
        if (
            not isinstance(quantity, (int, float))
            or isinstance(quantity, bool)
            or quantity < (1 if whole else 1e-6)
            or (whole and not float(quantity).is_integer())
        ):
            what = "a whole number of calls, at least 1" if whole else "a number, at least 0.000001"
            return invalid(f"endpoints[{endpoint_id!r}].{field} must be {what}")
        if endpoint_id not in prices:
            return fal_platform_error(404, "not_found", "Resource not found")
        # UNVERIFIED: a "historical" price per call; the sandbox assumes one billing unit per call.
        total += quantity * prices[endpoint_id]
    return json_response(200, {"estimate_type": kind, "total_cost": round(total, 6), "currency": "USD"})


ROUTES: dict[tuple[str, str], Callable[[Request, Context], Response]] = {
    ("POST", "/models/pricing/estimate"): _estimate,
    ("GET", "/models/usage"): _usage,
    ("GET", "/models/billing-events"): _billing_events,
    ("GET", "/models/requests/by-endpoint"): _by_endpoint,
    ("GET", "/models/requests/search"): _search,
}
