"""FalProvider's pure functions: building requests, parsing statuses and results, every error body mapped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from genctl.errors import GenctlError
from genctl.providers.base import Job, JobStatus, Output
from genctl.providers.fal import FalProvider, app_splits, extract_outputs, split_endpoint
from genctl.values import Key

SECRET = "1b2c3d4e-0000-4000-8000-00000000abcd:9f0e0000000000000000000000007777"
KEY = Key(provider="fal", label="env:FAL_KEY", source="env", _secret=SECRET)
Q = "https://queue.fal.run"
fal = FalProvider()


def response(
    status: int,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    text: str | None = None,
    method: str = "POST",
    url: str = f"{Q}/fal-ai/flux/dev",
    request_id: str | None = "req-123",
) -> httpx.Response:
    all_headers = {"x-fal-request-id": request_id} if request_id else {}
    all_headers.update(headers or {})
    request = httpx.Request(method, url)
    if text is not None:
        return httpx.Response(status, text=text, headers=all_headers, request=request)
    return httpx.Response(status, json=body, headers=all_headers, request=request)


def mapped(
    resp: httpx.Response, *, model: str | None = "fal-ai/flux/dev", key: Key | None = KEY
) -> GenctlError:
    err = fal.error_from_response(resp, model=model, key=key)
    assert err.provider == "fal"
    assert err.http_status == resp.status_code
    assert err.fix
    assert SECRET not in str(err) + repr(err) + str(err.to_json())
    return err


# -- ids and requests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "app", "path"),
    [
        ("fal-ai/flux/dev", "fal-ai/flux", "dev"),
        ("fal-ai/flux-pro/v1.1-ultra", "fal-ai/flux-pro", "v1.1-ultra"),
        ("fal-ai/fast-sdxl", "fal-ai/fast-sdxl", ""),
        ("fal-ai/kling-video/v2.1/master/text-to-video", "fal-ai/kling-video", "v2.1/master/text-to-video"),
        ("workflows/acme/my-flow/run", "workflows/acme/my-flow", "run"),
        ("comfy/acme/graph", "comfy/acme/graph", ""),
        ("12345-my-app", "12345/my-app", ""),
    ],
)
def test_split_endpoint(endpoint: str, app: str, path: str) -> None:
    assert split_endpoint(endpoint) == (app, path)


def test_split_endpoint_rejects_single_segment() -> None:
    with pytest.raises(GenctlError) as caught:
        split_endpoint("flux")
    assert caught.value.code == "model.not_found"
    assert "owner/app" in caught.value.fix


def test_app_splits() -> None:
    assert app_splits("fal-ai/flux-dev", "fal-ai/flux-dev") == ["fal-ai/flux/dev"]
    assert app_splits("fal-ai/flux-dev/image-to-image", "fal-ai/flux-dev") == [
        "fal-ai/flux/dev/image-to-image"
    ]
    assert app_splits("fal-ai/flux", "fal-ai/flux") == []


def test_submit_request_uses_full_id_and_key_header() -> None:
    provider = FalProvider(queue_url="http://127.0.0.1:9/fal/queue/")
    request = provider.submit_request(model="fal-ai/flux-pro/v1.1-ultra", params={"prompt": "a fox"}, key=KEY)
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:9/fal/queue/fal-ai/flux-pro/v1.1-ultra"
    assert request.headers["Authorization"] == f"Key {SECRET}"
    assert request.json == {"prompt": "a fox"}
    assert request.idempotent is False
    assert SECRET not in repr(request) and SECRET not in repr(provider)


def test_parse_submit_uses_server_urls() -> None:
    body = {
        "request_id": "r-1",
        "status": "IN_QUEUE",
        "queue_position": 3,
        "response_url": "https://queue.fal.run/fal-ai/flux-pro/requests/r-1",
        "status_url": "https://queue.fal.run/fal-ai/flux-pro/requests/r-1/status",
        "cancel_url": "https://queue.fal.run/fal-ai/flux-pro/requests/r-1/cancel",
    }
    job, status = fal.parse_submit(response(200, body), model="fal-ai/flux-pro/v1.1-ultra", key=KEY)
    assert job == Job(
        "fal",
        "fal-ai/flux-pro/v1.1-ultra",
        "r-1",
        body["status_url"],
        body["response_url"],
        body["cancel_url"],
        key_label="env:FAL_KEY",
    )
    assert status == JobStatus(state="queued", queue_position=3)


def test_parse_submit_builds_owner_app_urls_when_missing() -> None:
    job, status = fal.parse_submit(
        response(200, {"request_id": "r-2"}), model="fal-ai/flux-pro/v1.1-ultra", key=KEY
    )
    assert job.status_url == f"{Q}/fal-ai/flux-pro/requests/r-2/status"
    assert job.result_url == f"{Q}/fal-ai/flux-pro/requests/r-2"
    assert job.cancel_url == f"{Q}/fal-ai/flux-pro/requests/r-2/cancel"
    assert status.state == "queued"


def test_parse_submit_without_request_id() -> None:
    with pytest.raises(GenctlError) as caught:
        fal.parse_submit(response(200, {"oops": 1}), model="fal-ai/flux/dev", key=KEY)
    assert caught.value.code == "provider.unavailable"


def test_status_result_cancel_requests() -> None:
    job = Job("fal", "fal-ai/flux/dev", "r-1", "http://sb/s", "http://sb/r", "http://sb/c")
    status = fal.status_request(job, key=KEY)
    assert (status.method, status.url, status.params, status.idempotent) == (
        "GET",
        "http://sb/s",
        {"logs": "1"},
        True,
    )
    result = fal.result_request(job, key=KEY)
    assert result is not None and (result.method, result.url) == ("GET", "http://sb/r")
    cancel = fal.cancel_request(job, key=KEY)
    assert cancel is not None and (cancel.method, cancel.url) == ("PUT", "http://sb/c")
    assert fal.download_headers("https://v3.fal.media/files/x.png", key=KEY) == {}


# -- statuses ----------------------------------------------------------------------------------------------


def test_parse_status_shapes() -> None:
    queued = fal.parse_status(response(202, {"status": "IN_QUEUE", "queue_position": 0}, method="GET"))
    assert (queued.state, queued.queue_position) == ("queued", 0)
    logs = [{"message": "loading", "level": "INFO"}, {"message": "step 1/4", "level": "INFO"}]
    running = fal.parse_status(response(202, {"status": "IN_PROGRESS", "logs": logs}, method="GET"))
    assert (running.state, running.logs) == ("running", ("loading", "step 1/4"))
    done = fal.parse_status(
        response(200, {"status": "COMPLETED", "metrics": {"inference_time": 1.2}}, method="GET")
    )
    assert (done.state, done.metrics, done.terminal) == ("succeeded", {"inference_time": 1.2}, True)
    failed_body = {"status": "COMPLETED", "error": "CUDA out of memory", "error_type": "runner_error"}
    failed = fal.parse_status(response(200, failed_body, method="GET"))
    assert (failed.state, failed.error, failed.error_type) == ("failed", "CUDA out of memory", "runner_error")


def test_parse_status_unknown() -> None:
    with pytest.raises(GenctlError) as caught:
        fal.parse_status(response(200, {"status": "EXPLODED"}, method="GET"))
    assert caught.value.code == "provider.unavailable" and caught.value.request_id == "req-123"


def test_error_from_status() -> None:
    job = Job("fal", "fal-ai/flux/dev", "r-9", "s")
    failed = fal.error_from_status(job, JobStatus(state="failed", error="boom"))
    assert (failed.code, failed.request_id, failed.exit_code) == ("generation.failed", "r-9", 1)
    assert "boom" in failed.message and "r-9" in failed.message
    # A top-level error_type is a request (infra) error, even one genctl has never seen (fal-api.md §2.2).
    infra = fal.error_from_status(job, JobStatus(state="failed", error="boom", error_type="runner_error"))
    assert (infra.code, infra.exit_code, infra.details) == (
        "provider.unavailable",
        7,
        {"error_type": "runner_error"},
    )
    assert "check the inputs" not in infra.fix and "retry" in infra.fix
    policy = fal.error_from_status(
        job, JobStatus(state="failed", error="nsfw", error_type="content_policy_violation")
    )
    assert policy.code == "content.policy"
    assert fal.error_from_status(job, JobStatus(state="canceled")).code == "generation.canceled"


# -- results -----------------------------------------------------------------------------------------------


def test_parse_result_images() -> None:
    body = {
        "images": [
            {
                "url": "https://v3.fal.media/files/a.jpeg",
                "width": 1024,
                "height": 768,
                "content_type": "image/jpeg",
            },
            {"url": "https://v3.fal.media/files/b.png", "content_type": "image/png", "file_name": "b.png"},
        ],
        "timings": {"inference": 2.5},
        "seed": 42,
        "has_nsfw_concepts": [False, False],
        "prompt": "a cat",
    }
    result = fal.parse_result(response(200, body, method="GET"))
    assert result.outputs == (
        Output("https://v3.fal.media/files/a.jpeg", "image/jpeg"),
        Output("https://v3.fal.media/files/b.png", "image/png", "b.png"),
    )
    assert result.raw == body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"image": {"url": "https://f/x.png", "content_type": "image/png"}},
            [("https://f/x.png", "image/png")],
        ),
        (
            {"video": {"url": "https://f/v.mp4", "content_type": "video/mp4", "file_name": "v.mp4"}},
            [("https://f/v.mp4", "video/mp4")],
        ),
        (
            {"audio_file": {"url": "https://f/a.wav", "content_type": "audio/wav"}},
            [("https://f/a.wav", "audio/wav")],
        ),
        ({"audio": {"url": "https://f/a.mp3"}}, [("https://f/a.mp3", None)]),
        ({"audio_url": "https://f/b.mp3", "duration": 3.0}, [("https://f/b.mp3", None)]),
        ({"model_mesh": {"url": "https://f/m.glb", "file_size": 10}}, [("https://f/m.glb", None)]),
        (
            {"outputs": {"frames": [{"url": "data:image/png;base64,AA==", "content_type": "image/png"}]}},
            [("data:image/png;base64,AA==", "image/png")],
        ),
        ({"images": [{"url": "https://f/x.png"}, {"url": "https://f/x.png"}]}, [("https://f/x.png", None)]),
        ({"reference": {"url": "https://example.com/page"}}, []),  # a URL without any file marker
    ],
)
def test_extract_outputs_shapes(body: Any, expected: list[tuple[str, str | None]]) -> None:
    assert [(o.url, o.content_type) for o in extract_outputs(body)] == expected


def test_extract_outputs_bounded() -> None:
    deep: Any = {"url": "https://f/deep.png", "content_type": "image/png"}
    for _ in range(50):
        deep = {"nested": deep}
    assert extract_outputs(deep) == []
    wide = {"images": [{"url": f"https://f/{i}.png", "content_type": "image/png"} for i in range(5000)]}
    assert 0 < len(extract_outputs(wide)) < 5000


def test_parse_result_without_files_keeps_the_value() -> None:
    result = fal.parse_result(response(200, {"output": "a poem", "usage": {}}, method="GET"))
    assert result.outputs == (Output(url=None, value={"output": "a poem", "usage": {}}),)


# -- errors: every body of fal-api.md §2.2 / §2.3 ---------------------------------------------------------


def test_401_no_user_found() -> None:
    err = mapped(response(401, {"detail": "No user found for Key ID and Secret"}))
    assert (err.code, err.exit_code, err.request_id) == ("key.invalid", 3, "req-123")
    assert "No user found for Key ID and Secret" in err.message
    assert KEY.masked in err.message
    assert "fal.ai/dashboard/keys" in err.fix


def test_401_bad_format() -> None:
    detail = "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
    err = mapped(response(401, {"detail": detail}))
    assert err.code == "key.format"
    assert detail in err.message
    assert "<key_id>:<key_secret>" in err.fix


def test_401_without_key_is_missing() -> None:
    err = mapped(response(401, {"detail": "Unauthorized"}), key=None)
    assert err.code == "key.missing" and "FAL_KEY" in err.fix


def test_403_exhausted_balance() -> None:
    detail = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
    err = mapped(response(403, {"detail": detail}))
    assert err.code == "key.locked" and detail in err.message
    assert "fal.ai/dashboard/billing" in err.fix and "new key" in err.fix


def test_403_top_up_lock() -> None:
    err = mapped(response(403, {"detail": "User is locked. Reason: TOP_UP."}))
    assert err.code == "key.locked" and "fal.ai/dashboard/billing" in err.fix


def test_403_admin_lock() -> None:
    err = mapped(
        response(403, {"detail": "User is locked. Reason: Admin lock. Please contact support@fal.ai"})
    )
    assert err.code == "key.locked"
    assert "support@fal.ai" in err.fix and "new key" in err.fix


def test_platform_403_access_denied_is_scope() -> None:
    body = {"error": {"type": "authorization_error", "message": "Access denied"}}
    err = mapped(response(403, body, method="GET", url="https://api.fal.ai/v1/account/billing"))
    assert err.code == "key.scope" and "Access denied" in err.message and "ADMIN" in err.fix


def test_platform_401_invalid_api_key() -> None:
    body = {
        "error": {
            "type": "authorization_error",
            "message": "Invalid API key or malformed Authorization header",
        }
    }
    err = mapped(response(401, body, method="GET", url="https://api.fal.ai/v1/models/pricing"))
    assert err.code == "key.invalid" and "Invalid API key" in err.message


def test_cloudflare_challenge_html() -> None:
    page = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>cf</body></html>"
    resp = response(
        403, text=page, headers={"cf-mitigated": "challenge", "content-type": "text/html"}, request_id=None
    )
    err = mapped(resp)
    assert err.code == "blocked.cloudflare" and "not a key problem" in err.message
    assert err.exit_code == 7


def test_non_json_403_mentioning_cloudflare() -> None:
    page = "<html><title>Attention Required! | Cloudflare</title>Sorry, you have been blocked</html>"
    assert mapped(response(403, text=page, request_id=None)).code == "blocked.cloudflare"


def test_404_application_not_found_suggests_split() -> None:
    err = mapped(response(404, {"detail": "Application 'flux-dev' not found"}), model="fal-ai/flux-dev")
    assert (err.code, err.exit_code) == ("model.not_found", 4)
    assert "'flux-dev'" in err.message
    assert "fal-ai/flux/dev" in err.fix


def test_404_on_a_request_url_is_expired() -> None:
    resp = response(404, {"detail": "Request not found"}, method="GET", url=f"{Q}/fal-ai/flux/requests/r-1")
    assert mapped(resp).code == "output.expired"


def test_422_field_errors() -> None:
    body = {
        "detail": [
            {"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"},
            {
                "loc": ["body", "image_url"],
                "msg": "Image too small",
                "type": "image_too_small",
                "url": "https://docs.fal.ai/errors/#image_too_small",
                "ctx": {"min_height": 512, "min_width": 512},
            },
        ]
    }
    err = mapped(response(422, body, method="GET", url=f"{Q}/fal-ai/flux/requests/r-1"))
    assert (err.code, err.exit_code) == ("payload.invalid", 5)
    assert "prompt: field required" in err.message and "image_url: Image too small" in err.message
    assert err.details["fields"] == [
        {"field": "prompt", "message": "field required", "type": "value_error.missing"},
        {"field": "image_url", "message": "Image too small", "type": "image_too_small"},
    ]


def test_422_string_detail() -> None:
    err = mapped(response(422, {"detail": "Unsupported image format"}))
    assert err.code == "payload.invalid" and "Unsupported image format" in err.message


def test_422_content_policy() -> None:
    body = {
        "detail": [
            {
                "loc": ["body", "prompt"],
                "msg": "The content could not be processed because it "
                "contained material flagged by a content checker.",
                "type": "content_policy_violation",
            }
        ]
    }
    err = mapped(response(422, body))
    assert err.code == "content.policy" and "flagged" in err.message


def test_429_rate_limited_with_hint() -> None:
    err = mapped(response(429, {"detail": "Too many requests"}, headers={"Retry-After": "12"}))
    assert (err.code, err.exit_code, err.details["retry_after"]) == ("rate.limited", 6, 12.0)


def test_5xx_with_error_type() -> None:
    body = {"detail": "Runner scheduling failed", "error_type": "runner_scheduling_failure"}
    err = mapped(response(503, body))
    assert err.code == "provider.unavailable" and "runner_scheduling_failure" in err.message
    assert err.details == {"error_type": "runner_scheduling_failure"}
    header_only = mapped(
        response(500, {"detail": "boom"}, headers={"X-Fal-Error-Type": "runner_disconnected"})
    )
    assert header_only.details == {"error_type": "runner_disconnected"}


def test_504_start_timeout_is_generation_timeout() -> None:
    body = {"detail": "Request timed out", "error_type": "request_timeout"}
    err = mapped(response(504, body, headers={"X-Fal-Request-Timeout-Type": "user"}))
    assert err.code == "generation.timeout" and "--timeout" in err.fix
    assert mapped(response(504, body)).code == "provider.unavailable"


def test_nginx_502_html() -> None:
    err = mapped(
        response(
            502,
            text="<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            request_id=None,
        )
    )
    assert err.code == "provider.unavailable" and "502 Bad Gateway" in err.message and err.request_id is None


def test_echoed_secret_is_masked() -> None:
    err = mapped(response(401, {"detail": f"No user found for Key ID and Secret {SECRET}"}))
    assert SECRET not in err.message and SECRET.split(":")[1] not in err.message
