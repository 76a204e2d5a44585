"""fal wire truths from fal-api.md's turn-2 corrections: wrong paths, cancellation, infra errors, cancel
shapes, billable units and the caller's start timeout, over plain HTTP and through fal_client 1.0.3."""

from __future__ import annotations

import time
from collections.abc import Iterator

import fal_client
import fal_client.client as fal_module
import httpx
import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox.keys import FAL_KEY_OK

AUTH = {"Authorization": f"Key {FAL_KEY_OK}"}


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/fal", headers=AUTH, timeout=10) as client:
        yield client


@pytest.fixture
def fal(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[fal_client.SyncClient]:
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{sandbox.url}/fal/queue/")
    monkeypatch.setattr(fal_module, "RUN_URL_FORMAT", f"{sandbox.url}/fal/run/")
    monkeypatch.setattr(fal_module, "MAX_ATTEMPTS", 1)
    client = fal_client.SyncClient(key=FAL_KEY_OK)
    yield client
    if "_client" in client.__dict__:
        client.__dict__["_client"].close()


def finished(
    http: httpx.Client, path: str, inputs: dict[str, object], headers: dict[str, str] | None = None
) -> httpx.Response:
    """Submit, read the status once (a sandbox job completes on its first status read), GET the result."""
    body = http.post(f"/queue/{path}", json=inputs, headers=headers).json()
    assert http.get(body["status_url"]).json()["status"] == "COMPLETED"
    return http.get(body["response_url"])


# --- 1. a wrong path inside a known app ---------------------------------------------------------------------


def test_wrong_subpath_is_accepted_completes_at_once_and_only_the_result_404s(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.configure(queue_polls=3, progress_polls=2, model_latency=5)  # must not slow a wrong path down
    submit = http.post("/queue/fal-ai/flux/deb", json={"prompt": "x"})
    assert submit.status_code == 200
    body = submit.json()
    rid = body["request_id"]
    base = f"{sandbox.url}/fal/queue/fal-ai/flux/requests/{rid}"
    assert body == {
        "status": "IN_QUEUE",
        "request_id": rid,
        "response_url": base,
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
        "queue_position": 0,
    }
    status = http.get(body["status_url"])
    assert status.status_code == 200
    assert status.json()["status"] == "COMPLETED" and status.json()["metrics"] == {"inference_time": 0.05}
    assert "error" not in status.json()
    result = http.get(body["response_url"])
    assert (result.status_code, result.json()) == (404, {"detail": "Path /deb not found"})
    assert result.headers["x-fal-billable-units"] == "0"


def test_wrong_subpath_names_the_whole_path_after_the_app(http: httpx.Client) -> None:
    body = http.post("/queue/fal-ai/kling-video/v2.1/standard/text-to-video", json={"prompt": "x"}).json()
    result = http.get(body["response_url"])
    assert result.json() == {"detail": "Path /v2.1/standard/text-to-video not found"}


def test_sync_run_with_a_wrong_subpath_answers_the_404_directly(http: httpx.Client) -> None:
    r = http.post("/run/fal-ai/flux/deb", json={"prompt": "x"})
    assert (r.status_code, r.json()) == (404, {"detail": "Path /deb not found"})
    assert r.headers["x-fal-billable-units"] == "0"


def test_an_unknown_app_is_still_refused_at_submit(http: httpx.Client, sandbox: Sandbox) -> None:
    r = http.post("/queue/fal-ai/flux-dev", json={"prompt": "x"})
    assert (r.status_code, r.json()) == (404, {"detail": "Application 'flux-dev' not found"})
    assert "x-fal-billable-units" not in r.headers


def test_fal_client_subscribe_to_a_wrong_path_raises_the_404(fal: fal_client.SyncClient) -> None:
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        fal.subscribe("fal-ai/flux/deb", {"prompt": "x"}, interval=0.001)
    assert (excinfo.value.status_code, excinfo.value.message) == (404, "Path /deb not found")


# --- 2. cancellation -------------------------------------------------------------------------------------


def test_a_job_cancelled_in_progress_answers_its_result_with_499(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    body = http.post("/queue/fal-ai/flux/dev", json={"prompt": "x [sandbox:hang]"}).json()
    assert http.get(body["status_url"]).json()["status"] == "IN_PROGRESS"
    assert http.put(body["cancel_url"]).json() == {"status": "CANCELLATION_REQUESTED"}
    result = http.get(body["response_url"])
    assert (result.status_code, result.json()) == (499, {"detail": "Request cancelled by the client."})
    assert [c.phase for c in sandbox.cancels] == ["running"]


@pytest.mark.parametrize(
    ("shape", "first", "second"),
    [
        ("status", (202, {"status": "CANCELLATION_REQUESTED"}), (400, {"status": "ALREADY_COMPLETED"})),
        ("success", (200, {"success": True}), (200, {"success": False})),
    ],
)
def test_cancel_answers_in_the_configured_shape(
    sandbox: Sandbox,
    http: httpx.Client,
    shape: str,
    first: tuple[int, dict[str, object]],
    second: tuple[int, dict[str, object]],
) -> None:
    sandbox.configure(fal_cancel_shape=shape, queue_polls=5)
    body = http.post("/queue/fal-ai/flux/dev", json={"prompt": "x"}).json()
    answers = [http.put(body["cancel_url"]) for _ in range(2)]
    assert [(a.status_code, a.json()) for a in answers] == [first, second]


def test_cancel_shape_is_validated(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="fal_cancel_shape"):
        sandbox.configure(fal_cancel_shape="maybe")


# --- 3. infrastructure errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("request_timeout", 504),
        ("startup_timeout", 504),
        ("runner_scheduling_failure", 503),
        ("runner_connection_timeout", 503),
        ("runner_disconnected", 503),
    ],
)
def test_infra_directive_completes_with_error_type_and_result_carries_it(
    http: httpx.Client, kind: str, code: int
) -> None:
    body = http.post("/queue/fal-ai/flux/dev", json={"prompt": f"x [sandbox:infra={kind}]"}).json()
    status = http.get(body["status_url"]).json()
    assert (status["status"], status["error_type"]) == ("COMPLETED", kind)
    result = http.get(body["response_url"])
    assert result.status_code == code
    assert result.json()["error_type"] == kind and isinstance(result.json()["detail"], str)
    assert result.headers["x-fal-error-type"] == kind and result.headers["x-fal-billable-units"] == "0"
    assert "x-fal-request-timeout-type" not in result.headers
    sync = http.post("/run/fal-ai/flux/dev", json={"prompt": f"x [sandbox:infra={kind}]"})
    assert (sync.status_code, sync.headers["x-fal-error-type"]) == (code, kind)


def test_request_timeout_body_is_the_documented_one(http: httpx.Client) -> None:
    result = finished(http, "fal-ai/flux/dev", {"prompt": "[sandbox:infra=request_timeout]"})
    assert result.json() == {"detail": "Request timed out", "error_type": "request_timeout"}


def test_callers_start_timeout_expiring_in_the_queue_is_a_user_timeout(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.configure(queue_polls=100)
    body = http.post(
        "/queue/fal-ai/flux/dev", json={"prompt": "x"}, headers={"X-Fal-Request-Timeout": "0.1"}
    ).json()
    assert http.get(body["status_url"]).json()["status"] == "IN_QUEUE"
    time.sleep(0.12)
    status = http.get(body["status_url"]).json()
    assert (status["status"], status["error"], status["error_type"]) == (
        "COMPLETED",
        "Request timed out",
        "request_timeout",
    )
    result = http.get(body["response_url"])
    assert result.status_code == 504
    assert result.headers["x-fal-request-timeout-type"] == "user"
    assert result.headers["x-fal-error-type"] == "request_timeout"


def test_start_timeout_that_never_expires_changes_nothing(http: httpx.Client) -> None:
    result = finished(http, "fal-ai/flux/dev", {"prompt": "x"}, headers={"X-Fal-Request-Timeout": "30"})
    assert result.status_code == 200


def test_sync_run_start_timeout_and_a_malformed_timeout(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=1, max_block=0.05)
    r = http.post("/run/fal-ai/flux/dev", json={"prompt": "x"}, headers={"X-Fal-Request-Timeout": "0.01"})
    assert (r.status_code, r.headers["x-fal-request-timeout-type"]) == (504, "user")
    bad = http.post("/queue/fal-ai/flux/dev", json={"prompt": "x"}, headers={"X-Fal-Request-Timeout": "soon"})
    assert (bad.status_code, bad.json()["error_type"], bad.headers["x-fal-error-type"]) == (
        400,
        "bad_request",
        "bad_request",
    )


def test_infra_fault_carries_user_timeout_header(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.inject(Fault.infra("request_timeout", provider="fal.run", user_timeout=True))
    sandbox.inject(Fault.infra("runner_disconnected", provider="fal.queue"))
    r = http.post("/run/fal-ai/flux/dev", json={"prompt": "x"})
    assert (r.status_code, r.json()) == (
        504,
        {"detail": "Request timed out", "error_type": "request_timeout"},
    )
    assert r.headers["x-fal-request-timeout-type"] == "user" and "x-fal-request-id" in r.headers
    q = http.post("/queue/fal-ai/flux/dev", json={"prompt": "x"})
    assert (q.status_code, q.headers["x-fal-error-type"]) == (503, "runner_disconnected")
    with pytest.raises(ValueError, match="unknown fal error type"):
        Fault.infra("gremlins")


# --- 5. billable units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "inputs", "units"),
    [
        ("fal-ai/flux/dev", {"prompt": "x", "num_images": 3}, "3"),  # unit: image
        ("fal-ai/flux/schnell", {"prompt": "x", "image_size": {"width": 1024, "height": 1024}}, "2"),
        ("fal-ai/minimax/video-01", {"prompt": "x"}, "1"),  # unit: video
        ("fal-ai/kling-video/v2.1/master/text-to-video", {"prompt": "x", "duration": "10"}, "10"),
    ],
)
def test_billable_units_on_successful_results(
    http: httpx.Client, endpoint: str, inputs: dict[str, object], units: str
) -> None:
    assert finished(http, endpoint, inputs).headers["x-fal-billable-units"] == units
    assert http.post(f"/run/{endpoint}", json=inputs).headers["x-fal-billable-units"] == units


def test_validation_errors_bill_zero_units(http: httpx.Client) -> None:
    sync = http.post("/run/fal-ai/flux/dev", json={"num_images": 1})
    assert (sync.status_code, sync.headers["x-fal-billable-units"]) == (422, "0")
    result = finished(http, "fal-ai/flux/dev", {"prompt": "x", "num_inference_steps": 99})
    assert (result.status_code, result.headers["x-fal-billable-units"]) == (422, "0")


# --- the generated per-endpoint spec ------------------------------------------------------------------------


def test_status_result_and_cancel_also_answer_under_the_full_endpoint_id(
    http: httpx.Client,
) -> None:
    """fal's generated per-endpoint spec puts them there (seedream_openapi.json); fal_client: owner/app."""
    rid = http.post("/queue/fal-ai/flux/dev", json={"prompt": "x"}).json()["request_id"]
    full = f"/queue/fal-ai/flux/dev/requests/{rid}"
    assert http.get(f"{full}/status").json()["status"] == "COMPLETED"
    assert http.get(full).json()["images"]
    assert http.put(f"{full}/cancel").json() == {"status": "ALREADY_COMPLETED"}


def test_inlined_openapi_declares_cancel_success_and_status_logs_like_the_generated_spec(
    http: httpx.Client,
) -> None:
    params = {"endpoint_id": "fal-ai/flux/dev", "expand": "openapi-3.0"}
    doc = http.get("/api/v1/models", params=params).json()["models"][0]["openapi"]
    base = "/fal-ai/flux/dev/requests/{request_id}"
    cancel = doc["paths"][f"{base}/cancel"]["put"]["responses"]["200"]["content"]["application/json"]
    assert cancel["schema"]["properties"]["success"]["type"] == "boolean"
    assert [p["name"] for p in doc["paths"][f"{base}/status"]["get"]["parameters"]] == ["request_id", "logs"]
    assert doc["components"]["schemas"]["QueueStatus"]["required"] == ["status", "request_id"]
