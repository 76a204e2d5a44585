"""Malformed query strings at every sandbox route: each answer is a 2xx-4xx, never a 5xx (a sandbox 500 means
a handler crashed on input a real API answers with a 400)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox.catalog_replicate import SDXL_VERSION
from genctl.sandbox.keys import FAL_KEY_ADMIN, REPLICATE_TOKEN_OK

FAL = {"Authorization": f"Key {FAL_KEY_ADMIN}"}  # ADMIN: reach every route's parameter parsing, not a 403
REP = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}

QUERIES = [
    "limit=true",
    "limit=-1",
    "limit=0",
    "limit=1e999",
    "limit=99999999999999999999999",
    "cursor=%%%",
    "cursor=LTE%3D",  # base64 of "-1"
    "cursor=" + "A" * 5000,
    "cursor=",
    "start=yesterday&end=tomorrow",
    "start=2025-13-45",
    "end=2020-01-01&start=2030-01-01",
    "timezone=..%2F..%2Fetc",
    "timeframe=fortnight&bound_to_timeframe=maybe",
    "expand=%00",
    "endpoint_id=" + ",".join(["x/y"] * 60),
    "endpoint_id=&endpoint_id=",
    "request_id=not-a-uuid&status=meh&sort_by=vibes",
    "min_similarity=nan&only_api_requests=sure",
    "query=&image_url=x&video_url=y",
    "logs=maybe",
    "created_after=last%20week&created_before=%FF",
    "source=api",
    "sort_by=name&sort_direction=sideways",
    "q=%ZZ&category=%&status=%",
    "=&&==&a",
    "%",
    "fal_webhook=%00",
]


@pytest.fixture(scope="module")
def box() -> Iterator[tuple[Sandbox, dict[str, str]]]:
    """One sandbox with a finished fal job, a Replicate prediction and a Replicate file to aim at."""
    with Sandbox() as sb, httpx.Client(base_url=sb.url, timeout=10) as http:
        job = http.post("/fal/queue/fal-ai/flux/dev", json={"prompt": "x"}, headers=FAL).json()
        http.get(job["status_url"], headers=FAL)
        pred = http.post(
            "/replicate/v1/predictions", json={"version": SDXL_VERSION, "input": {}}, headers=REP
        )
        upload = http.post(
            "/replicate/v1/files", files={"content": ("a.txt", b"hi", "text/plain")}, headers=REP
        )
        ids = {"fal": job["request_id"], "pred": pred.json()["id"], "file": upload.json()["id"]}
        yield sb, ids


def routes(ids: dict[str, str]) -> list[tuple[str, str, dict[str, str], Any]]:
    fal_req = f"/fal/queue/fal-ai/flux/requests/{ids['fal']}"
    pred = f"/replicate/v1/predictions/{ids['pred']}"
    est = {"estimate_type": "unit_price", "endpoints": {"fal-ai/flux/dev": {"unit_quantity": 1}}}
    return [
        ("POST", "/fal/queue/fal-ai/flux/dev", FAL, {"prompt": "x"}),
        ("GET", f"{fal_req}/status", FAL, None),
        ("GET", f"{fal_req}/status/stream", FAL, None),
        ("GET", fal_req, FAL, None),
        ("PUT", f"{fal_req}/cancel", FAL, None),
        ("POST", "/fal/run/fal-ai/flux/schnell", FAL, {"prompt": "x"}),
        ("GET", "/fal/api/v1/models", FAL, None),
        ("GET", "/fal/api/v1/models/pricing", FAL, None),
        ("POST", "/fal/api/v1/models/pricing/estimate", FAL, est),
        ("GET", "/fal/api/v1/models/usage", FAL, None),
        ("GET", "/fal/api/v1/models/billing-events", FAL, None),
        ("GET", "/fal/api/v1/models/requests/by-endpoint", FAL, None),
        ("GET", "/fal/api/v1/models/requests/search", FAL, None),
        ("GET", "/fal/api/v1/account/billing", FAL, None),
        ("POST", "/fal/rest/storage/auth/token", FAL, {}),
        ("POST", "/fal/rest/storage/upload/initiate", FAL, {"file_name": "a.txt"}),
        ("GET", "/fal/cdn/files/nope/a.txt", {}, None),
        ("GET", "/media/fal/nope/a.png", {}, None),
        ("GET", "/replicate/", {}, None),
        ("GET", "/replicate/v1/search", {}, None),
        ("GET", "/replicate/v1/account", REP, None),
        ("GET", "/replicate/v1/hardware", REP, None),
        ("GET", "/replicate/v1/predictions", REP, None),
        ("POST", "/replicate/v1/predictions", REP, {"version": SDXL_VERSION, "input": {}}),
        ("GET", pred, REP, None),
        ("POST", f"{pred}/cancel", REP, None),
        ("GET", f"/replicate/v1/streams/{ids['pred']}", REP, None),
        ("GET", "/replicate/v1/models", REP, None),
        ("GET", "/replicate/v1/models/stability-ai/sdxl", REP, None),
        (
            "POST",
            "/replicate/v1/models/black-forest-labs/flux-schnell/predictions",
            REP,
            {"input": {"prompt": "x"}},
        ),
        ("GET", "/replicate/v1/models/stability-ai/sdxl/versions", REP, None),
        ("GET", f"/replicate/v1/models/stability-ai/sdxl/versions/{SDXL_VERSION}", REP, None),
        ("GET", "/replicate/v1/collections", REP, None),
        ("GET", "/replicate/v1/collections/text-to-image", REP, None),
        ("GET", "/replicate/v1/files", REP, None),
        ("GET", f"/replicate/v1/files/{ids['file']}", REP, None),
        ("GET", f"/replicate/v1/files/{ids['file']}/download", REP, None),
        ("GET", "/_sandbox/health", {}, None),
        ("GET", "/_sandbox/requests", {}, None),
    ]


def test_no_route_answers_a_malformed_query_with_a_5xx(box: tuple[Sandbox, dict[str, str]]) -> None:
    sandbox, ids = box
    failures = []
    with httpx.Client(base_url=sandbox.url, timeout=10) as http:
        for method, path, headers, body in routes(ids):
            for query in QUERIES:
                r = http.request(method, f"{path}?{query}", headers=headers, json=body)
                if r.status_code >= 500:
                    failures.append(f"{method} {path}?{query[:40]} -> {r.status_code} {r.text[:120]}")
    assert failures == []


def test_query_method_search_with_a_malformed_query(box: tuple[Sandbox, dict[str, str]]) -> None:
    sandbox, _ = box
    for query in QUERIES:
        r = httpx.request(
            "QUERY",
            f"{sandbox.url}/replicate/v1/models?{query}",
            headers={**REP, "Content-Type": "text/plain"},
            content=b"flux",
        )
        assert r.status_code < 500, (query, r.text)


def test_malformed_values_are_400s_not_silently_accepted(box: tuple[Sandbox, dict[str, str]]) -> None:
    sandbox, _ = box
    cases = [
        ("/replicate/v1/search?query=flux&limit=true", {}),
        ("/replicate/v1/predictions?cursor=%%%", REP),
        ("/replicate/v1/models?sort_direction=sideways", REP),
        ("/fal/api/v1/models?limit=true", {}),
        ("/fal/api/v1/models/usage?start=yesterday", FAL),
        ("/fal/api/v1/models/requests/search?min_similarity=nan", FAL),
    ]
    for path, headers in cases:
        assert httpx.get(f"{sandbox.url}{path}", headers=headers).status_code == 400, path
