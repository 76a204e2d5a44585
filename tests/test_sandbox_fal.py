"""The sandbox's fal hosts, driven by the official fal_client 1.0.3 and by plain httpx over loopback."""

from __future__ import annotations

import base64
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import fal_client
import fal_client.client as fal_module
import httpx
import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import (
    FAL_ACCOUNT,
    FAL_KEY_ADMIN,
    FAL_KEY_LOCKED_ADMIN,
    FAL_KEY_LOCKED_BALANCE,
    FAL_KEY_NO_COLON,
    FAL_KEY_OK,
    FAL_KEY_UNKNOWN,
)

FalFactory = Callable[..., fal_client.SyncClient]


@pytest.fixture
def make_fal(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[FalFactory]:
    """fal_client pointed at the sandbox the way fal's own unit tests do it: patch the URL globals."""
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{sandbox.url}/fal/queue/")
    monkeypatch.setattr(fal_module, "RUN_URL_FORMAT", f"{sandbox.url}/fal/run/")
    monkeypatch.setattr(fal_module, "REST_URL", f"{sandbox.url}/fal/rest")
    monkeypatch.setattr(fal_module, "CDN_URL", f"{sandbox.url}/fal/cdn")
    monkeypatch.setattr(fal_module, "MAX_ATTEMPTS", 1)
    made: list[fal_client.SyncClient] = []

    def make(key: str = FAL_KEY_OK) -> fal_client.SyncClient:
        client = fal_client.SyncClient(key=key)
        made.append(client)
        return client

    yield make
    for client in made:
        if "_client" in client.__dict__:
            client.__dict__["_client"].close()


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def detail_of(error: fal_client.FalClientHTTPError) -> Any:
    """fal_client types `message` as str, but for a 422 it holds the `detail` list as sent."""
    return error.message


def fal_auth(key: str = FAL_KEY_OK) -> dict[str, str]:
    return {"Authorization": f"Key {key}"}


# --- fal_client as an independent client ------------------------------------------------------------------


def test_subscribe_walks_queue_progress_and_returns_a_real_result(
    sandbox: Sandbox, make_fal: FalFactory, http: httpx.Client
) -> None:
    sandbox.configure(queue_polls=2, progress_polls=3)
    updates: list[fal_client.Status] = []
    result = make_fal().subscribe(
        "fal-ai/flux/dev",
        {"prompt": "a lighthouse at dusk", "seed": 7},
        with_logs=True,
        on_queue_update=updates.append,
        interval=0.001,
    )
    assert updates[:2] == [fal_client.Queued(position=1), fal_client.Queued(position=0)]
    progress = [u for u in updates if isinstance(u, fal_client.InProgress)]
    assert [u.logs[-1]["message"] for u in progress if u.logs] == ["step 1/3", "step 2/3", "step 3/3"]
    done = updates[-1]
    assert isinstance(done, fal_client.Completed) and done.error is None and "inference_time" in done.metrics
    image = result["images"][0]
    assert (image["width"], image["height"], image["content_type"]) == (1024, 768, "image/png")
    assert result["seed"] == 7 and result["prompt"] == "a lighthouse at dusk"
    assert result["has_nsfw_concepts"] == [False] and "inference" in result["timings"]
    download = http.get(image["url"])
    assert download.headers["content-type"] == "image/png"
    assert download.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_submit_status_result_and_cancel(sandbox: Sandbox, make_fal: FalFactory) -> None:
    client = make_fal()
    sandbox.configure(queue_polls=5)
    handle = client.submit("fal-ai/flux-pro/v1.1-ultra", {"prompt": "a fox"})
    assert client.status("fal-ai/flux-pro/v1.1-ultra", handle.request_id) == fal_client.Queued(position=4)
    # status, result and cancel use owner/app only (fal-api.md §1.2)
    assert sandbox.count(rf"^/fal/queue/fal-ai/flux-pro/requests/{handle.request_id}/status$") == 1
    handle.cancel()
    status = handle.status()
    assert isinstance(status, fal_client.Completed) and status.error_type == "client_cancelled"
    assert [(c.provider, c.request_id, c.phase) for c in sandbox.cancels] == [
        ("fal", handle.request_id, "queued")
    ]
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        handle.cancel()
    assert excinfo.value.status_code == 400 and "ALREADY_COMPLETED" in excinfo.value.message

    sandbox.configure(queue_polls=0)
    done = client.submit("fal-ai/flux/schnell", {"prompt": "x", "num_images": 2})
    result = client.result("fal-ai/flux/schnell", done.request_id)
    assert len({img["url"] for img in result["images"]}) == 2


def test_run_is_synchronous_and_honours_image_size(make_fal: FalFactory) -> None:
    result = make_fal().run(
        "fal-ai/flux/schnell", {"prompt": "x", "image_size": {"width": 320, "height": 200}}
    )
    assert [(i["width"], i["height"]) for i in result["images"]] == [(320, 200)]


def test_sync_mode_returns_data_uris(make_fal: FalFactory) -> None:
    result = make_fal().run("fal-ai/flux/schnell", {"prompt": "x", "image_size": "square", "sync_mode": True})
    url = result["images"][0]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]).startswith(b"\x89PNG")


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # fal_client never closes its CDN httpx.Client
def test_upload_through_cdn_token_storage_fallback_and_multipart(
    make_fal: FalFactory, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_fal()
    url = client.upload(b"hello sandbox", "text/plain", "hello.txt")
    assert "/fal/cdn/files/" in url and url.endswith("/hello.txt")
    fetched = http.get(url)
    assert fetched.content == b"hello sandbox" and fetched.headers["content-type"] == "text/plain"

    legacy = client.upload(b"via initiate", "text/plain", "old.txt", repository="fal")
    assert http.get(legacy).content == b"via initiate"

    monkeypatch.setattr(fal_module, "MULTIPART_THRESHOLD", 100)
    monkeypatch.setattr(fal_module, "MULTIPART_CHUNK_SIZE", 64)
    blob = bytes(range(256)) + b"tail"
    assert http.get(client.upload(blob, "application/octet-stream", "blob.bin")).content == blob
    del client
    gc.collect()  # reap the leaked CDN clients while their ResourceWarnings are still ignored


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [
        (FAL_KEY_NO_COLON, 401, "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."),
        (FAL_KEY_UNKNOWN, 401, "No user found for Key ID and Secret"),
        (
            FAL_KEY_LOCKED_BALANCE,
            403,
            "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.",
        ),
        (FAL_KEY_LOCKED_ADMIN, 403, "User is locked. Reason: Admin lock. Please contact support@fal.ai"),
    ],
)
def test_key_errors_surface_as_fal_client_http_errors(
    make_fal: FalFactory, key: str, status: int, message: str
) -> None:
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        make_fal(key).submit("fal-ai/flux/dev", {"prompt": "x"})
    assert (excinfo.value.status_code, excinfo.value.message) == (status, message)


def test_locked_account_can_still_read_status(make_fal: FalFactory) -> None:
    handle = make_fal().submit("fal-ai/flux/dev", {"prompt": "x"})
    locked = make_fal(FAL_KEY_LOCKED_BALANCE)
    assert isinstance(locked.status("fal-ai/flux/dev", handle.request_id), fal_client.Completed)
    # fal_client fetches the CDN token with a bare raise_for_status(), so this 403 is an httpx error.
    with pytest.raises(httpx.HTTPStatusError) as excinfo:
        locked.upload(b"x", "text/plain")
    assert excinfo.value.response.status_code == 403
    assert excinfo.value.response.json()["detail"].startswith("User is locked.")


def test_unknown_app_is_404_naming_the_app(make_fal: FalFactory) -> None:
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        make_fal().submit("fal-ai/flux-dev", {"prompt": "x"})
    assert (excinfo.value.status_code, excinfo.value.message) == (404, "Application 'flux-dev' not found")


def test_validation_422_sync_and_queued(sandbox: Sandbox, make_fal: FalFactory, http: httpx.Client) -> None:
    client = make_fal()
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        client.run("fal-ai/flux/dev", {"num_images": 1})
    assert excinfo.value.status_code == 422
    assert detail_of(excinfo.value) == [
        {"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}
    ]

    # On the queue the submit is accepted; the job completes with an error and the result is the 422.
    handle = client.submit("fal-ai/flux/dev", {"prompt": "x", "num_inference_steps": 99})
    status = handle.status()
    assert isinstance(status, fal_client.Completed) and status.error == "Unprocessable Entity"
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        handle.get()
    assert detail_of(excinfo.value) == [
        {
            "loc": ["body", "num_inference_steps"],
            "msg": "ensure this value is less than or equal to 50",
            "type": "value_error.number.not_le",
            "ctx": {"limit_value": 50},
        }
    ]
    raw = http.get(handle.response_url.replace(sandbox.url, ""), headers=fal_auth())
    assert raw.status_code == 422 and raw.headers["x-fal-retryable"] == "false"


def test_typed_422_and_content_policy(make_fal: FalFactory) -> None:
    client = make_fal()
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        client.run("fal-ai/flux-pro/v1.1-ultra", {"prompt": "x", "num_images": 9})
    assert detail_of(excinfo.value) == [
        {
            "loc": ["body", "num_images"],
            "msg": "Input should be less than or equal to 4",
            "type": "less_than_equal",
            "url": "https://docs.fal.ai/errors#less_than_equal",
            "ctx": {"le": 4},
            "input": 9,
        }
    ]
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        client.subscribe("fal-ai/flux/dev", {"prompt": "something [sandbox:nsfw]"}, interval=0.001)
    [detail] = detail_of(excinfo.value)
    assert excinfo.value.status_code == 422 and detail["type"] == "content_policy_violation"


def test_failing_job_completes_with_error_and_result_500(make_fal: FalFactory) -> None:
    handle = make_fal().submit("fal-ai/flux/dev", {"prompt": "x [sandbox:fail]"})
    status = handle.status()
    assert isinstance(status, fal_client.Completed) and status.error_type == "runner_server_error"
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        handle.get()
    assert excinfo.value.status_code == 500 and excinfo.value.error_type == "runner_server_error"


def test_never_finishing_job_times_out_client_side_and_is_cancelled(
    sandbox: Sandbox, make_fal: FalFactory
) -> None:
    with pytest.raises(fal_client.FalClientTimeoutError) as excinfo:
        make_fal().subscribe(
            "fal-ai/flux/dev", {"prompt": "x [sandbox:hang]"}, client_timeout=1.05, interval=0.01
        )
    assert [(c.request_id, c.phase) for c in sandbox.cancels] == [(excinfo.value.request_id, "running")]


def test_never_finishing_sync_run_gives_up_after_max_block(sandbox: Sandbox, make_fal: FalFactory) -> None:
    sandbox.configure(never_finish=True, max_block=0.05)
    with pytest.raises(fal_client.FalClientHTTPError) as excinfo:
        make_fal().run("fal-ai/flux/dev", {"prompt": "x"})
    assert (excinfo.value.status_code, excinfo.value.error_type) == (504, "request_timeout")


# --- the queue over plain HTTP -----------------------------------------------------------------------------


def test_queue_positions_count_down_then_202_until_200(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=3, progress_polls=2)
    submitted = http.post("/fal/queue/fal-ai/flux/dev", json={"prompt": "x"}, headers=fal_auth()).json()
    assert submitted["status"] == "IN_QUEUE" and submitted["queue_position"] == 3
    assert (
        submitted["status_url"]
        == f"{sandbox.url}/fal/queue/fal-ai/flux/requests/{submitted['request_id']}/status"
    )
    seen = []
    for logs in ["1", "true", "0", "false", "1", "1"]:
        r = http.get(submitted["status_url"], params={"logs": logs}, headers=fal_auth())
        body = r.json()
        seen.append((r.status_code, body["status"], body.get("queue_position"), body.get("logs")))
    assert seen[:3] == [(202, "IN_QUEUE", 2, None), (202, "IN_QUEUE", 1, None), (202, "IN_QUEUE", 0, None)]
    assert seen[3] == (202, "IN_PROGRESS", None, None)  # logs=false: no logs
    assert seen[4][:2] == (202, "IN_PROGRESS") and [x["message"] for x in seen[4][3]] == [
        "step 1/2",
        "step 2/2",
    ]
    assert seen[5][:2] == (200, "COMPLETED") and {"message", "level", "source", "timestamp"} <= set(
        seen[5][3][0]
    )
    result = http.get(submitted["response_url"], headers=fal_auth())
    assert result.status_code == 200 and result.headers["x-fal-request-id"] == submitted["request_id"]


def test_result_before_completion_and_unknown_request(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.configure(queue_polls=1)
    submitted = http.post("/fal/queue/fal-ai/flux/dev", json={"prompt": "x"}, headers=fal_auth()).json()
    assert http.get(submitted["response_url"], headers=fal_auth()).status_code == 400
    missing = "/fal/queue/fal-ai/flux/requests/00000000-0000-0000-0000-000000000000"
    assert http.put(f"{missing}/cancel", headers=fal_auth()).json() == {"status": "NOT_FOUND"}
    assert http.get(f"{missing}/status", headers=fal_auth()).status_code == 404
    assert http.post("/fal/queue/fal-ai/flux/dev", json={}).status_code == 401


def test_model_latency_holds_completion_by_wall_clock(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(model_latency=0.3)
    submitted = http.post("/fal/queue/fal-ai/flux/schnell", json={"prompt": "x"}, headers=fal_auth()).json()
    assert http.get(submitted["status_url"], headers=fal_auth()).json()["status"] == "IN_PROGRESS"
    time.sleep(0.35)
    assert http.get(submitted["status_url"], headers=fal_auth()).json()["status"] == "COMPLETED"


# --- platform API ------------------------------------------------------------------------------------------


def test_models_pagination_search_and_filters(http: httpx.Client) -> None:
    first = http.get("/fal/api/v1/models", params={"limit": 5}).json()
    assert len(first["models"]) == 5 and first["has_more"] is True
    assert base64.b64decode(first["next_cursor"]) == b"2"
    ids = [m["endpoint_id"] for m in first["models"]]
    cursor = first["next_cursor"]
    while cursor:
        page = http.get("/fal/api/v1/models", params={"limit": 5, "cursor": cursor}).json()
        ids += [m["endpoint_id"] for m in page["models"]]
        cursor = page["next_cursor"]
    assert len(ids) == len(set(ids)) >= 11 and "fal-ai/stable-audio" in ids
    meta = first["models"][0]["metadata"]
    assert meta["display_name"] == "FLUX.1 [dev]" and meta["category"] == "text-to-image"
    assert meta["is_favorited"] is None  # unauthenticated

    videos = http.get("/fal/api/v1/models", params={"category": "text-to-video"}).json()["models"]
    assert {m["endpoint_id"] for m in videos} == {
        "fal-ai/kling-video/v2.1/master/text-to-video",
        "fal-ai/minimax/video-01",
        "fal-ai/veo3.1",
        "fal-ai/veo3.1/fast",
    }
    found = http.get("/fal/api/v1/models", params={"q": "schnell"}).json()["models"]
    assert [m["endpoint_id"] for m in found] == ["fal-ai/flux/schnell"]
    deprecated = http.get("/fal/api/v1/models", params={"status": "deprecated"}).json()["models"]
    assert all(m["metadata"]["status"] == "deprecated" for m in deprecated) and deprecated
    assert (
        http.get("/fal/api/v1/models", params={"cursor": "!!"}).json()["error"]["type"] == "validation_error"
    )


def test_models_find_mode_with_openapi(http: httpx.Client) -> None:
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("endpoint_id", "fal-ai/flux/dev"),
        ("endpoint_id", "fal-ai/stable-audio"),
        ("expand", "openapi-3.0"),
    ]
    models = http.get("/fal/api/v1/models", params=params, headers=fal_auth()).json()["models"]
    assert [m["endpoint_id"] for m in models] == ["fal-ai/flux/dev", "fal-ai/stable-audio"]
    schemas = models[0]["openapi"]["components"]["schemas"]
    flux_input = schemas["FluxDevInput"]
    assert flux_input["required"] == ["prompt"]
    assert flux_input["properties"]["image_size"]["anyOf"][0] == {"$ref": "#/components/schemas/ImageSize"}
    assert models[0]["metadata"]["is_favorited"] is False
    assert http.get("/fal/api/v1/models", params={"endpoint_id": "fal-ai/nope"}).json()["models"] == []


def test_pricing_and_billing_scopes(http: httpx.Client) -> None:
    unauth = http.get("/fal/api/v1/models/pricing", params={"endpoint_id": "fal-ai/flux/dev"})
    assert unauth.status_code == 401 and unauth.json()["error"]["type"] == "authorization_error"
    prices = http.get(
        "/fal/api/v1/models/pricing", params={"endpoint_id": "fal-ai/flux/dev"}, headers=fal_auth()
    )
    assert prices.json()["prices"] == [
        {"endpoint_id": "fal-ai/flux/dev", "unit_price": 0.025, "unit": "image", "currency": "USD"}
    ]
    api_scope = http.get("/fal/api/v1/account/billing", params={"expand": "credits"}, headers=fal_auth())
    assert api_scope.status_code == 403
    assert api_scope.json() == {"error": {"type": "authorization_error", "message": "Access denied"}}
    admin = http.get(
        "/fal/api/v1/account/billing", params={"expand": "credits"}, headers=fal_auth(FAL_KEY_ADMIN)
    )
    assert admin.json() == {"username": FAL_ACCOUNT, "credits": {"current_balance": 24.5, "currency": "USD"}}
    broke = http.get(
        "/fal/api/v1/account/billing", params={"expand": "credits"}, headers=fal_auth(FAL_KEY_LOCKED_BALANCE)
    )
    assert broke.json()["credits"]["current_balance"] < 0
