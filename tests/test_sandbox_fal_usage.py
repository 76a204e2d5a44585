"""The fal Platform API's usage, billing and request-history routes, fed by jobs the sandbox really ran."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_ADMIN, FAL_KEY_OK, FAL_KEY_OK_2

API = {"Authorization": f"Key {FAL_KEY_OK}"}
ADMIN = {"Authorization": f"Key {FAL_KEY_ADMIN}"}  # same account as FAL_KEY_OK, ADMIN scope
DENIED = {"error": {"type": "authorization_error", "message": "Access denied"}}


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/fal", timeout=10) as client:
        yield client


def run_jobs(http: httpx.Client) -> dict[str, str]:
    """Three calls: a 2-image queue job, a 1-image sync run, and a 422 (no units)."""
    queued = http.post(
        "/queue/fal-ai/flux/dev", json={"prompt": "red fox", "num_images": 2}, headers=API
    ).json()
    assert http.get(queued["status_url"], headers=API).json()["status"] == "COMPLETED"
    sync = http.post("/run/fal-ai/flux/dev", json={"prompt": "blue whale"}, headers=API)
    bad = http.post("/run/fal-ai/flux/dev", json={"num_images": 1}, headers=API)
    assert (sync.status_code, bad.status_code) == (200, 422)
    return {
        "queued": queued["request_id"],
        "sync": sync.headers["x-fal-request-id"],
        "bad": bad.headers.get("x-fal-request-id", ""),
    }


@pytest.mark.parametrize("path", ["/models/usage", "/models/billing-events"])
def test_admin_routes_refuse_an_api_scoped_key(http: httpx.Client, path: str) -> None:
    r = http.get(f"/api/v1{path}", headers=API)
    assert (r.status_code, r.json()) == (403, DENIED)
    assert http.get(f"/api/v1{path}").status_code == 401
    assert http.get(f"/api/v1{path}", headers=ADMIN).status_code == 200


def test_billing_events_list_each_billed_request(http: httpx.Client) -> None:
    ids = run_jobs(http)
    events = http.get("/api/v1/models/billing-events", headers=ADMIN).json()
    assert events["has_more"] is False and events["next_cursor"] is None
    by_id = {e["request_id"]: e for e in events["billing_events"]}
    assert set(by_id) == {ids["queued"], ids["sync"]}  # the 422 billed nothing
    assert by_id[ids["queued"]] | {"timestamp": None} == {
        "request_id": ids["queued"],
        "endpoint_id": "fal-ai/flux/dev",
        "timestamp": None,
        "output_units": 2.0,
        "unit_price": 0.025,
        "percent_discount": None,
        "cost_subtotal": 0.05,
        "cost_discount": 0,
        "cost_total": 0.05,
        "cost_estimate_nano_usd": 50_000_000,
    }
    one = http.get("/api/v1/models/billing-events", params={"request_id": ids["sync"]}, headers=ADMIN).json()
    assert [e["request_id"] for e in one["billing_events"]] == [ids["sync"]]
    paged = http.get("/api/v1/models/billing-events", params={"limit": 1}, headers=ADMIN).json()
    assert len(paged["billing_events"]) == 1 and paged["has_more"] is True and paged["next_cursor"] == "Mg=="


def test_usage_summary_and_time_series(http: httpx.Client) -> None:
    run_jobs(http)
    usage = http.get("/api/v1/models/usage", params={"expand": "time_series,summary"}, headers=ADMIN).json()
    [line] = usage["summary"]
    assert (line["endpoint_id"], line["unit"], line["quantity"], line["cost_total"]) == (
        "fal-ai/flux/dev",
        "image",
        3.0,
        0.075,
    )
    assert len(usage["time_series"]) == 1 and usage["time_series"][0]["results"] == [line]
    default = http.get("/api/v1/models/usage", headers=ADMIN).json()
    assert "time_series" in default and "summary" not in default
    other = {"Authorization": f"Key {FAL_KEY_OK_2}"}  # another account sees none of it
    assert http.get("/api/v1/models/requests/search", headers=other).json()["results"] == []


def test_requests_by_endpoint_and_search(http: httpx.Client) -> None:
    ids = run_jobs(http)
    missing = http.get("/api/v1/models/requests/by-endpoint", headers=API)
    assert missing.status_code == 400 and missing.json()["error"]["type"] == "validation_error"
    listed = http.get(
        "/api/v1/models/requests/by-endpoint",
        params={"endpoint_id": "fal-ai/flux/dev", "expand": "payloads"},
        headers=API,
    ).json()
    items = {i["request_id"]: i for i in listed["items"]}
    assert ids["queued"] in items and ids["sync"] in items and len(items) == 3
    assert items[ids["queued"]]["json_input"] == {"prompt": "red fox", "num_images": 2}
    assert items[ids["queued"]]["status_code"] == 200
    errors = http.get(
        "/api/v1/models/requests/by-endpoint",
        params={"endpoint_id": "fal-ai/flux/dev", "status": "user_error"},
        headers=API,
    ).json()
    assert [i["status_code"] for i in errors["items"]] == [422] and "json_input" not in errors["items"][0]

    found: dict[str, Any] = http.get(
        "/api/v1/models/requests/search", params={"query": "fox"}, headers=API
    ).json()
    assert [(r["request_id"], r["similarity"]) for r in found["results"]] == [(ids["queued"], 1.0)]
    browse = http.get("/api/v1/models/requests/search", headers=API).json()["results"]
    assert len(browse) == 3 and browse[0]["sent_at"] >= browse[-1]["sent_at"]  # newest first


def test_pricing_estimate(http: httpx.Client) -> None:
    url = "/api/v1/models/pricing/estimate"
    calls = {
        "estimate_type": "historical_api_price",
        "endpoints": {"fal-ai/flux/dev": {"call_quantity": 100}},
    }
    units = {"estimate_type": "unit_price", "endpoints": {"fal-ai/flux/schnell": {"unit_quantity": 50}}}
    assert http.post(url, json=calls, headers=API).json() == {
        "estimate_type": "historical_api_price",
        "total_cost": 2.5,
        "currency": "USD",
    }
    assert http.post(url, json=units, headers=API).json()["total_cost"] == 0.15
    assert http.post(url, json={"estimate_type": "guess"}, headers=API).status_code == 400
    unknown = {"estimate_type": "unit_price", "endpoints": {"fal-ai/nope": {"unit_quantity": 1}}}
    assert http.post(url, json=unknown, headers=API).json() == {
        "error": {"type": "not_found", "message": "Resource not found"}
    }
    assert http.get(url, headers=API).status_code == 405


def test_bad_dates_and_timezones_are_400s(http: httpx.Client) -> None:
    for params in ({"start": "yesterday"}, {"timezone": "Mars/Olympus"}, {"timeframe": "fortnight"}):
        r = http.get("/api/v1/models/usage", params=params, headers=ADMIN)
        assert (r.status_code, r.json()["error"]["type"]) == (400, "validation_error")
    ok = http.get(
        "/api/v1/models/usage", params={"start": "2020-01-01", "timezone": "Europe/Berlin"}, headers=ADMIN
    )
    assert ok.status_code == 200
