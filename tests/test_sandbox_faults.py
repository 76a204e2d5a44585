"""Injected faults, the request log, the /_sandbox control API, and a clean stop()."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator

import fal_client
import fal_client.client as fal_module
import httpx
import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox.keys import FAL_KEY_OK, FAL_KEY_OK_2, REPLICATE_TOKEN_OK

FAL = {"Authorization": f"Key {FAL_KEY_OK}"}
REPLICATE = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}
FLUX = "/replicate/v1/models/black-forest-labs/flux-schnell/predictions"


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def test_replicate_429_with_and_without_retry_after(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.inject(Fault.rate_limited("replicate", times=1))
    r = http.post(FLUX, json={"input": {"prompt": "x"}}, headers=REPLICATE)
    assert (r.status_code, r.headers["retry-after"], r.headers["content-type"]) == (
        429,
        "5",
        "application/problem+json",
    )
    assert r.json() == {
        "detail": "Request was throttled. Your rate limit resets in ~5s.",
        "status": 429,
        "retry_after": 5,
    }
    assert (
        http.post(FLUX, json={"input": {"prompt": "x"}}, headers=REPLICATE).status_code == 201
    )  # times=1 spent

    sandbox.inject(Fault.rate_limited("replicate", retry_after=None, times=1))
    bare = http.post(FLUX, json={"input": {"prompt": "x"}}, headers=REPLICATE)
    assert bare.status_code == 429 and "retry-after" not in bare.headers


def test_fal_infra_error_reaches_fal_client_with_its_type(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{sandbox.url}/fal/queue/")
    monkeypatch.setattr(fal_module, "MAX_ATTEMPTS", 1)
    sandbox.inject(Fault.unavailable("fal.queue", 504, method="POST"))
    client = fal_client.SyncClient(key=FAL_KEY_OK)
    try:
        with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
            client.submit("fal-ai/flux/dev", {"prompt": "x"})
    finally:
        client.__dict__["_client"].close()
    error = excinfo.value
    assert (error.status_code, error.message, error.error_type) == (
        504,
        "Request timed out",
        "request_timeout",
    )
    assert error.response_headers["x-fal-error-type"] == "request_timeout"


def test_cloudflare_challenge_page(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.inject(Fault.cloudflare("fal.api", path=r"/models/pricing"))
    r = http.get("/fal/api/v1/models/pricing", params={"endpoint_id": "fal-ai/flux/dev"}, headers=FAL)
    assert r.status_code == 403 and r.headers["cf-mitigated"] == "challenge"
    assert r.headers["content-type"].startswith("text/html") and "Just a moment..." in r.text
    assert http.get("/fal/api/v1/models").status_code == 200  # only the pricing path matched


def test_slow_drop_and_key_scoped_faults(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.inject(Fault.slow(0.2, provider="fal.api", times=1))
    started = time.monotonic()
    assert http.get("/fal/api/v1/models").status_code == 200
    assert time.monotonic() - started >= 0.2

    sandbox.inject(Fault.drop(provider="replicate", times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/replicate/v1/account", headers=REPLICATE)
    assert sandbox.requests[-1].status is None

    sandbox.inject(Fault.http(503, {"detail": "down for one key"}, provider="fal", key=FAL_KEY_OK_2))
    assert http.post("/fal/run/fal-ai/flux/schnell", json={"prompt": "x"}, headers=FAL).status_code == 200
    other = {"Authorization": f"Key {FAL_KEY_OK_2}"}
    assert http.post("/fal/run/fal-ai/flux/schnell", json={"prompt": "x"}, headers=other).status_code == 503
    assert [f.fired for f in sandbox.faults] == [1, 1, 1]
    sandbox.clear_faults()
    assert http.post("/fal/run/fal-ai/flux/schnell", json={"prompt": "x"}, headers=other).status_code == 200


def test_records_carry_fingerprints_never_keys(sandbox: Sandbox, http: httpx.Client) -> None:
    http.post("/fal/queue/fal-ai/flux/dev", json={"prompt": "x"}, headers=FAL)
    http.get("/replicate/v1/account", headers=REPLICATE)
    http.get("/fal/api/v1/models")
    queue, account, models = sandbox.requests
    assert (queue.method, queue.host, queue.provider, queue.status) == ("POST", "fal.queue", "fal", 200)
    assert queue.key_fingerprint == hashlib.sha256(FAL_KEY_OK.encode()).hexdigest()[:12]
    assert account.key_fingerprint == hashlib.sha256(REPLICATE_TOKEN_OK.encode()).hexdigest()[:12]
    assert models.key_fingerprint is None
    dumped = repr(sandbox.requests) + http.get("/_sandbox/requests").text
    assert FAL_KEY_OK not in dumped and REPLICATE_TOKEN_OK not in dumped
    assert FAL_KEY_OK.split(":")[1] not in dumped
    assert sandbox.count(r"^/fal/") == 2 and sandbox.count(method="GET", host="replicate") == 1
    assert sandbox.count(status=200) == 3


def test_http_control_api_drives_a_sandbox(sandbox: Sandbox, http: httpx.Client) -> None:
    fault = {"kind": "rate_limited", "provider": "fal.run", "retry_after": 2, "times": 1}
    added = http.post("/_sandbox/faults", json=fault)
    assert added.status_code == 201 and added.json()["faults"][0]["status"] == 429
    r = http.post("/fal/run/fal-ai/flux/schnell", json={"prompt": "x"}, headers=FAL)
    assert (r.status_code, r.headers["retry-after"]) == (429, "2")
    assert http.get("/_sandbox/faults").json()["faults"][0]["fired"] == 1
    assert http.delete("/_sandbox/faults").status_code == 204 and sandbox.faults == []

    config = http.post("/_sandbox/configure", json={"queue_polls": 2, "model_latency": 0}).json()
    assert config["queue_polls"] == 2 and sandbox.config.queue_polls == 2
    assert http.post("/_sandbox/configure", json={"nonsense": 1}).status_code == 400

    new_key = "11111111-2222-4333-8444-555555555555:" + "ab" * 16
    spec = {"provider": "fal", "key": new_key, "state": "locked_admin", "account": "acme"}
    assert http.post("/_sandbox/keys", content=json.dumps(spec)).json()["state"] == "locked_admin"
    locked = http.post(
        "/fal/run/fal-ai/flux/schnell", json={"prompt": "x"}, headers={"Authorization": f"Key {new_key}"}
    )
    assert locked.status_code == 403

    records = http.get("/_sandbox/requests").json()["requests"]
    assert all(not r["path"].startswith("/_sandbox") for r in records)
    assert http.get("/_sandbox/health").json() == {"ok": True}
    assert http.get("/_sandbox/cancels").json() == {"cancels": []}


def test_the_control_api_says_which_process_the_sandbox_is_and_its_cpu(http: httpx.Client) -> None:
    import os

    before = http.get("/_sandbox/process").json()
    sum(range(2_000_000))  # this process's CPU: the sandbox of the tests runs in it
    after = http.get("/_sandbox/process").json()
    assert before.keys() == after.keys() == {"pid", "cpu_seconds"}
    assert before["pid"] == after["pid"] == os.getpid()
    assert 0 < before["cpu_seconds"] < after["cpu_seconds"]


def test_response_delay_applies_to_every_response(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(response_delay=0.1)
    started = time.monotonic()
    http.get("/fal/api/v1/models")
    http.get("/replicate/v1/account", headers=REPLICATE)
    assert time.monotonic() - started >= 0.2


def test_stop_is_prompt_even_with_a_request_in_flight() -> None:
    sandbox = Sandbox().start()
    sandbox.inject(Fault.slow(30, provider="fal.api"))
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(httpx.get(f"{sandbox.url}/fal/api/v1/models", timeout=10).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.1)
    started = time.monotonic()
    sandbox.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 2 and not worker.is_alive() and outcome
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sandbox.url}/fal/api/v1/models", timeout=2)


def test_env_points_every_host_at_the_sandbox(sandbox: Sandbox) -> None:
    assert sandbox.env() == {
        "GENCTL_FAL_QUEUE_URL": f"{sandbox.url}/fal/queue",
        "GENCTL_FAL_RUN_URL": f"{sandbox.url}/fal/run",
        "GENCTL_FAL_API_URL": f"{sandbox.url}/fal/api/v1",
        "GENCTL_FAL_REST_URL": f"{sandbox.url}/fal/rest",
        "GENCTL_REPLICATE_API_URL": f"{sandbox.url}/replicate/v1",
    }
    assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.port > 0


def test_a_barrier_serves_requests_sent_together_and_refuses_one_sent_alone(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.inject(Fault.barrier(3, timeout=10.0, provider="replicate", path=r"/account$"))
    headers = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}
    answers: list[int] = []

    def ask() -> None:
        with httpx.Client(base_url=http.base_url) as own:
            answers.append(own.get("/replicate/v1/account", headers=headers).status_code)

    workers = [threading.Thread(target=ask) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert answers == [200, 200, 200]

    sandbox.clear_faults()
    sandbox.inject(Fault.barrier(2, timeout=0.2, provider="replicate", path=r"/account$"))
    alone = http.get("/replicate/v1/account", headers=headers)
    assert alone.status_code == 504
    assert alone.json() == {"detail": "sandbox barrier: 2 requests at once were expected within 0.2 s"}
