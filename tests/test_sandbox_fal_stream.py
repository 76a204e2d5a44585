"""fal's queue status stream (SSE) in the sandbox, read with plain httpx, and the faults that break it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox.keys import FAL_KEY_OK

AUTH = {"Authorization": f"Key {FAL_KEY_OK}"}


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/fal/queue", headers=AUTH, timeout=5) as client:
        yield client


def submit(http: httpx.Client, prompt: str = "x") -> dict[str, Any]:
    body: dict[str, Any] = http.post("/fal-ai/flux/dev", json={"prompt": prompt}).json()
    return body


def read_stream(http: httpx.Client, url: str, params: dict[str, str] | None = None) -> list[str]:
    with http.stream("GET", url, params=params) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
        return [line for line in r.iter_lines() if line]


def test_stream_sends_each_status_then_closes_after_completed(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=2, progress_polls=2)
    job = submit(http)
    lines = read_stream(http, f"{job['status_url']}/stream", {"logs": "1"})
    assert all(line.startswith("data: ") for line in lines)
    events = [json.loads(line[len("data: ") :]) for line in lines]
    assert [(e["status"], e.get("queue_position")) for e in events] == [
        ("IN_QUEUE", 1),
        ("IN_QUEUE", 0),
        ("IN_PROGRESS", None),
        ("IN_PROGRESS", None),
        ("COMPLETED", None),
    ]
    assert [[log["message"] for log in e["logs"]] for e in events[2:4]] == [
        ["step 1/2"],
        ["step 1/2", "step 2/2"],
    ]
    last = events[-1]
    assert set(last) == {
        "status",
        "request_id",
        "response_url",
        "status_url",
        "cancel_url",
        "logs",
        "metrics",
    }
    assert last["request_id"] == job["request_id"] and "inference_time" in last["metrics"]
    # the same object the poll endpoint answers once the job is done
    polled = http.get(job["status_url"], params={"logs": "1"}).json()
    assert {k: v for k, v in polled.items() if k != "metrics"} == {
        k: v for k, v in last.items() if k != "metrics"
    }
    assert http.get(job["response_url"]).status_code == 200


def test_stream_without_logs_and_for_an_unknown_request(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(progress_polls=1)
    job = submit(http)
    events = [json.loads(x[6:]) for x in read_stream(http, f"{job['status_url']}/stream")]
    assert [(e["status"], e.get("logs")) for e in events] == [("IN_PROGRESS", None), ("COMPLETED", None)]
    missing = http.get("/fal-ai/flux/requests/00000000-0000-0000-0000-000000000000/status/stream")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Request not found"})
    assert httpx.get(f"{sandbox.url}/fal/queue/fal-ai/flux/requests/x/status/stream").status_code == 401


def test_a_stream_waiting_only_on_the_clock_reads_the_job_a_few_times(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    # The fake shares a small machine with the client it measures: 32 streams re-reading their jobs
    # every tick (20 ms) would spend most of a core. Once no read can move a job on, the stream sleeps
    # until it is due (at most SETTLED_WAKE), and the job still ends on time with COMPLETED.
    sandbox.configure(model_latency=0.6)
    job = submit(http)
    events = [json.loads(x[6:]) for x in read_stream(http, f"{job['status_url']}/stream")]
    assert [e["status"] for e in events] == ["IN_PROGRESS", "COMPLETED"]
    watched = sandbox.job(job["request_id"])
    assert watched is not None and watched.completed is not None
    assert watched.completed - watched.created >= 0.6
    assert watched.reads <= 10  # 0.6 s / SETTLED_WAKE (0.1 s) + the first read; every tick would be 30


def test_a_cancel_reaches_a_stream_sleeping_until_its_job_is_due(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    # The job is due in 60 s, so the stream sleeps between reads; a cancel must still end it within a
    # wake (SETTLED_WAKE), long before the 3 s read timeout that fails this test if it sleeps on.
    sandbox.configure(model_latency=60.0)
    job = submit(http)
    seen: list[dict[str, Any]] = []
    with http.stream("GET", f"{job['status_url']}/stream", timeout=3.0) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if len(seen) == 1:
                    assert http.put(job["cancel_url"]).json() == {"status": "CANCELLATION_REQUESTED"}
    assert [e["status"] for e in seen] == ["IN_PROGRESS", "COMPLETED"]
    assert seen[-1]["error_type"] == "client_cancelled"


def test_keep_alive_pings_while_nothing_changes_and_cancel_ends_the_stream(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.configure(status_stream_ping=0.05)
    job = submit(http, "x [sandbox:hang]")
    seen: list[str] = []
    cancels: list[httpx.Response] = []
    with http.stream("GET", f"{job['status_url']}/stream") as r:
        for line in r.iter_lines():
            if line:
                seen.append(line)
            if seen.count(": ping") == 2 and not cancels:
                cancels.append(http.put(job["cancel_url"]))
    assert cancels[0].json() == {"status": "CANCELLATION_REQUESTED"}
    assert json.loads(seen[0][6:])["status"] == "IN_PROGRESS"
    assert seen[1:3] == [": ping", ": ping"]
    final = json.loads(seen[-1][6:])
    assert (final["status"], final["error_type"]) == ("COMPLETED", "client_cancelled")


def test_stream_drop_fault_cuts_the_stream_mid_job(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=3)
    sandbox.inject(Fault.stream_drop(after_events=1, provider="fal.queue"))
    job = submit(http)
    got: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), http.stream("GET", f"{job['status_url']}/stream") as r:
        got.extend(line for line in r.iter_lines() if line)
    assert [json.loads(x[6:])["status"] for x in got] == ["IN_QUEUE"]
    assert http.get(job["status_url"]).json()["status"] in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")


@pytest.mark.parametrize("status", [404, 405])
def test_stream_refused_fault_leaves_polling_working(
    sandbox: Sandbox, http: httpx.Client, status: int
) -> None:
    sandbox.inject(Fault.stream_refused(status, provider="fal.queue"))
    job = submit(http)
    refused = http.get(f"{job['status_url']}/stream")
    assert refused.status_code == status and "detail" in refused.json()
    assert http.get(job["status_url"]).json()["status"] == "COMPLETED"
