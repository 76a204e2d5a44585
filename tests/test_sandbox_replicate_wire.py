"""Replicate wire truths from the recorded cassettes (shared/recordings/replicate-python-cassettes): absent
timestamps, dp- version ids, cancel bodies, the sync "processing with output" answer, streams, error content
types, 429 wordings and the predictions listing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from replicate.client import Client

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox.catalog_replicate import SDXL_VERSION
from genctl.sandbox.keys import REPLICATE_TOKEN_OK

LLAMA = "/models/meta/meta-llama-3-8b-instruct/predictions"
SCHNELL = "/models/black-forest-labs/flux-schnell/predictions"
LATER = {"started_at", "completed_at", "metrics"}


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}
    with httpx.Client(base_url=f"{sandbox.url}/replicate/v1", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def sdk(sandbox: Sandbox) -> Iterator[Client]:
    client = Client(api_token=REPLICATE_TOKEN_OK, base_url=f"{sandbox.url}/replicate")
    client.poll_interval = 0.001
    yield client
    client._client.close()


def test_timestamps_are_absent_until_set(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=1, progress_polls=1)
    created = http.post("/predictions", json={"version": SDXL_VERSION, "input": {}}).json()
    assert created["status"] == "starting" and not LATER & set(created)
    assert {"output", "data_removed", "error", "logs", "created_at"} <= set(created)
    seen = [http.get(f"/predictions/{created['id']}").json() for _ in range(3)]
    assert [p["status"] for p in seen] == ["starting", "processing", "succeeded"]
    assert not LATER & set(seen[0])
    assert "started_at" in seen[1] and not {"completed_at", "metrics"} & set(seen[1])
    assert set(seen[2]) >= LATER and all(seen[2][k] is not None for k in LATER)


def test_official_models_carry_a_dp_version_id(http: httpx.Client) -> None:
    body = http.post(SCHNELL, json={"input": {"prompt": "x"}}).json()
    assert re.fullmatch(r"dp-[0-9a-f]{32}", body["version"])
    assert http.get(f"/predictions/{body['id']}").json()["version"] == body["version"]
    by_name = http.post(
        "/predictions", json={"version": "black-forest-labs/flux-schnell", "input": {"prompt": "x"}}
    )
    assert by_name.json()["version"] == body["version"]
    again = http.post("/predictions", json={"version": body["version"], "input": {"prompt": "x"}})
    assert (again.status_code, again.json()["model"]) == (201, "black-forest-labs/flux-schnell")
    community = http.post("/predictions", json={"version": SDXL_VERSION, "input": {}}).json()
    assert community["version"] == SDXL_VERSION


def test_cancel_answers_200_canceled_with_null_logs(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=5)
    created = http.post("/predictions", json={"version": SDXL_VERSION, "input": {}}).json()
    r = http.post(f"/predictions/{created['id']}/cancel")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert (body["status"], body["logs"], body["output"], body["error"]) == ("canceled", None, None, None)
    assert {"completed_at", "metrics"} <= set(body) and "predict_time" in body["metrics"]


@pytest.mark.parametrize(("prefer", "applied"), [("wait=10", "wait=10"), ("wait", "wait")])
def test_sync_mode_can_answer_processing_with_the_output_filled(
    sandbox: Sandbox, http: httpx.Client, prefer: str, applied: str
) -> None:
    sandbox.configure(replicate_early_output=True)
    r = http.post(LLAMA, json={"input": {"prompt": "hi"}}, headers={"Prefer": prefer})
    assert (r.status_code, r.headers["preference-applied"]) == (201, applied)
    body = r.json()
    assert body["status"] == "processing" and "".join(body["output"]).endswith("You asked: hi")
    assert body["urls"]["stream"] == f"{sandbox.url}/replicate/v1/streams/{body['id']}"
    assert not LATER & set(body) and body["data_removed"] is False
    assert http.get(f"/predictions/{body['id']}").json()["status"] == "succeeded"


def test_early_output_by_directive_and_default_off(http: httpx.Client) -> None:
    wait = {"Prefer": "wait=5"}
    early = http.post(LLAMA, json={"input": {"prompt": "hi [sandbox:early_output]"}}, headers=wait).json()
    normal = http.post(LLAMA, json={"input": {"prompt": "hi"}}, headers=wait).json()
    assert (early["status"], normal["status"]) == ("processing", "succeeded")
    assert early["output"] is not None and set(normal) >= LATER
    unhurried = http.post(LLAMA, json={"input": {"prompt": "hi [sandbox:early_output]"}}).json()
    assert unhurried["status"] == "starting"  # only a sync (Prefer: wait) answer comes back early


def test_sdk_run_accepts_the_early_answer(sandbox: Sandbox, sdk: Client) -> None:
    sandbox.configure(replicate_early_output=True)
    tokens = sdk.run("meta/meta-llama-3-8b-instruct", input={"prompt": "hi"})
    assert "".join(tokens) == "This is the sandbox speaking. You asked: hi"


def test_stream_url_serves_output_then_done(http: httpx.Client, sdk: Client) -> None:
    created = http.post(LLAMA, json={"input": {"prompt": "yo"}}).json()
    with http.stream("GET", created["urls"]["stream"], headers={"Accept": "text/event-stream"}) as r:
        assert r.headers["content-type"] == "text/event-stream"
        lines = [line for line in r.iter_lines() if line]
    assert lines[:3] == ["event: output", "id: 1", "data: This"]
    assert lines[-3:] == ["event: done", f"id: {len(lines) // 3}", "data: {}"]
    events = [str(e) for e in sdk.stream("meta/meta-llama-3-8b-instruct", input={"prompt": "yo"})]
    assert "".join(events) == "This is the sandbox speaking. You asked: yo"
    failed = http.post(SCHNELL, json={"input": {"prompt": "x [sandbox:fail]"}}).json()
    with http.stream("GET", failed["urls"]["stream"]) as r:
        lines = [line for line in r.iter_lines() if line]
    assert lines[:3] == [
        "event: error",
        "id: 1",
        "data: Prediction failed: CUDA out of memory. Tried to allocate 2.00 GiB",
    ]


def test_error_content_types_follow_recordings_and_spec(sandbox: Sandbox, http: httpx.Client) -> None:
    unauth = httpx.post(f"{sandbox.url}/replicate/v1/predictions", headers={"Authorization": "Bearer r8_x"})
    assert unauth.headers["content-type"] == "application/problem+json"  # run__invalid-token.yaml
    assert unauth.json() == {
        "title": "Unauthenticated",
        "detail": "You did not pass a valid authentication token",
        "status": 401,
    }
    missing = http.get("/files/nope")
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
    assert missing.json() == {"detail": "File not found"}
    search = httpx.get(f"{sandbox.url}/replicate/v1/search")
    assert (search.status_code, search.headers["content-type"]) == (400, "application/json")
    assert search.json() == {"detail": 'Query parameter "query" is required'}


@pytest.mark.parametrize(
    ("wording", "retry_after", "body"),
    [
        (
            "expected_available",
            2,
            {"detail": "Request was throttled. Expected available in 2 seconds."},
        ),
        ("expected_available", 1, {"detail": "Request was throttled. Expected available in 1 second."}),
        (
            "resets_in",
            5,
            {
                "detail": "Request was throttled. Your rate limit resets in ~5s.",
                "status": 429,
                "retry_after": 5,
            },
        ),
    ],
)
def test_rate_limit_wordings(
    sandbox: Sandbox, http: httpx.Client, wording: str, retry_after: int, body: dict[str, Any]
) -> None:
    sandbox.inject(Fault.rate_limited("replicate", retry_after=retry_after, wording=wording, times=1))
    r = http.post(SCHNELL, json={"input": {"prompt": "x"}})
    assert (r.status_code, r.json(), r.headers["retry-after"]) == (429, body, str(retry_after))
    sandbox.inject(Fault.rate_limited("replicate", retry_after=None, wording=wording))
    assert "retry-after" not in http.get("/account").headers
    with pytest.raises(ValueError, match="wording"):
        Fault.rate_limited("replicate", wording="shouting")


def test_predictions_listing_pages_and_filters(http: httpx.Client) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = [http.post(SCHNELL, json={"input": {"prompt": f"p{i}"}}).json()["id"] for i in range(101)]
    first = http.get("/predictions").json()
    assert [p["id"] for p in first["results"]] == ids[::-1][:100] and first["previous"] is None
    second = http.get(first["next"]).json()
    assert [p["id"] for p in second["results"]] == [ids[0]] and second["next"] is None
    assert http.get(second["previous"]).json()["results"][0]["id"] == ids[-1]
    after = http.get("/predictions", params={"created_after": before.isoformat()}).json()
    assert len(after["results"]) == 100 and after["next"] is not None and "created_after" in after["next"]
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert http.get("/predictions", params={"created_after": future}).json()["results"] == []
    assert http.get("/predictions", params={"source": "web"}).json()["results"] == []
    for bad in ({"created_before": "last tuesday"}, {"source": "api"}, {"cursor": "%%%"}):
        r = http.get("/predictions", params=bad)
        assert (r.status_code, r.headers["content-type"]) == (400, "application/json"), bad


def test_hardware_is_the_recorded_list(http: httpx.Client) -> None:
    assert http.get("/hardware").json() == [
        {"sku": "cpu", "name": "CPU"},
        {"sku": "gpu-t4", "name": "Nvidia T4 GPU"},
        {"sku": "gpu-a40-small", "name": "Nvidia A40 GPU"},
        {"sku": "gpu-a40-large", "name": "Nvidia A40 (Large) GPU"},
    ]


def test_search_limit_must_be_1_to_50(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/replicate/v1/search"
    for limit in ("true", "0", "51", "-1", "2.5"):
        r = httpx.get(url, params={"query": "flux", "limit": limit})
        assert (r.status_code, r.headers["content-type"]) == (400, "application/json"), limit
    assert len(httpx.get(url, params={"query": "flux", "limit": "1"}).json()["models"]) == 1
