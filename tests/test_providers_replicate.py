"""ReplicateProvider's pure functions: endpoints, headers, predictions, every reference error mapped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from genctl.errors import GenctlError
from genctl.providers.base import Job, JobStatus, Output
from genctl.providers.factory import get_provider
from genctl.providers.fal import FalProvider
from genctl.providers.registry import detect as detect_provider
from genctl.providers.replicate import ReplicateProvider, cancel_after, outputs_from, parse_model_ref
from genctl.settings import ProviderSettings
from genctl.values import Key

TOKEN = "r8_Abcdefghijklmnopqrstuvwxyz0123456789Z"
KEY = Key(provider="replicate", label="env:REPLICATE_API_TOKEN", source="env", _secret=TOKEN)
API = "https://api.replicate.com/v1"
VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
rep = ReplicateProvider()


def response(
    status: int,
    body: Any = None,
    *,
    method: str = "POST",
    url: str = f"{API}/models/o/n/predictions",
    headers: dict[str, str] | None = None,
    text: str | None = None,
    auth: bool = True,
) -> httpx.Response:
    request = httpx.Request(method, url, headers={"Authorization": f"Bearer {TOKEN}"} if auth else {})
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def mapped(resp: httpx.Response, *, model: str | None = "o/n", key: Key | None = KEY) -> GenctlError:
    err = rep.error_from_response(resp, model=model, key=key)
    assert (err.provider, err.http_status) == ("replicate", resp.status_code)
    assert err.fix
    assert TOKEN not in str(err) + repr(err) + str(err.to_json())
    return err


def prediction(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "gm3qorzdhgbfurvjtvhg6dckhu",
        "model": "o/n",
        "version": "hidden",
        "input": {},
        "logs": "",
        "output": None,
        "error": None,
        "status": status,
        "data_removed": False,
        "created_at": "2025-01-01T00:00:00Z",
        "urls": {
            "get": f"{API}/predictions/gm3qorzdhgbfurvjtvhg6dckhu",
            "cancel": f"{API}/predictions/gm3qorzdhgbfurvjtvhg6dckhu/cancel",
        },
        **extra,
    }


# -- ids, registry, requests -------------------------------------------------------------------------------


def test_parse_model_ref() -> None:
    assert parse_model_ref("black-forest-labs/flux-schnell") == ("black-forest-labs", "flux-schnell", None)
    assert parse_model_ref(f"o/n:{VERSION}") == ("o", "n", VERSION)
    assert parse_model_ref(VERSION) == (None, None, VERSION)
    for bad in ("flux", "o/n/x", "o/n:", "/n"):
        with pytest.raises(GenctlError) as caught:
            parse_model_ref(bad)
        assert caught.value.code == "model.not_found"


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("fal-ai/flux/dev", "fal"),
        ("fal-ai/fast-sdxl", "fal"),
        ("fal/some-app", "fal"),
        ("bria/text-to-image/3.2", "fal"),
        (f"acme/thing:{VERSION}", "replicate"),
        (VERSION, "replicate"),
        ("black-forest-labs/flux-schnell", "replicate"),
        ("stability-ai/sdxl", "replicate"),
        ("acme/thing", None),
    ],
)
def test_detect_provider(model: str, provider: str | None) -> None:
    assert detect_provider(model) == provider


def test_get_provider() -> None:
    fal = get_provider("fal", ProviderSettings(name="fal", urls={"queue_url": "http://127.0.0.1:1/q"}))
    assert isinstance(fal, FalProvider) and fal.queue_url == "http://127.0.0.1:1/q"
    assert fal.rest_url == "https://rest.fal.ai"
    replicate = get_provider(
        "replicate", ProviderSettings(name="replicate", urls={"api_url": "http://x/v1/"})
    )
    assert isinstance(replicate, ReplicateProvider) and replicate.api_url == "http://x/v1"
    with pytest.raises(GenctlError) as caught:
        get_provider("midjourney", ProviderSettings(name="midjourney"))
    assert caught.value.code == "usage.invalid" and "fal, replicate" in caught.value.fix


def test_submit_official_model() -> None:
    request = rep.submit_request(model="black-forest-labs/flux-schnell", params={"prompt": "a fox"}, key=KEY)
    assert (request.method, request.url) == (
        "POST",
        f"{API}/models/black-forest-labs/flux-schnell/predictions",
    )
    assert request.json == {"input": {"prompt": "a fox"}}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Prefer" not in request.headers and "Cancel-After" not in request.headers
    assert request.idempotent is False and request.timeout is None
    assert TOKEN not in repr(request)


@pytest.mark.parametrize("model", [f"o/n:{VERSION}", VERSION])
def test_submit_version(model: str) -> None:
    request = rep.submit_request(model=model, params={"x": 1}, key=KEY, deadline=90, wait=10)
    assert request.url == f"{API}/predictions"
    assert request.json == {"version": VERSION, "input": {"x": 1}}
    assert request.headers["Prefer"] == "wait=10"
    assert request.headers["Cancel-After"] == "90s"
    assert request.timeout == 20.0


def test_cancel_after_minimum_and_rounding() -> None:
    assert cancel_after(0.3) == "5s"
    assert cancel_after(12.2) == "13s"
    assert cancel_after(3600) == "3600s"


def test_wait_out_of_range() -> None:
    with pytest.raises(GenctlError) as caught:
        ReplicateProvider(wait=61)
    assert caught.value.code == "usage.invalid"
    assert (
        ReplicateProvider(wait=5).submit_request(model="o/n", params={}, key=KEY).headers["Prefer"]
        == "wait=5"
    )


def test_parse_submit_and_requests() -> None:
    job, status = rep.parse_submit(response(201, prediction("starting")), model="o/n", key=KEY)
    assert job.request_id == "gm3qorzdhgbfurvjtvhg6dckhu"
    assert job.status_url == f"{API}/predictions/gm3qorzdhgbfurvjtvhg6dckhu"
    assert job.cancel_url == f"{API}/predictions/gm3qorzdhgbfurvjtvhg6dckhu/cancel"
    assert job.key_label == "env:REPLICATE_API_TOKEN"
    assert status == JobStatus(state="queued")
    assert rep.result_request(job, key=KEY) is None
    get = rep.status_request(job, key=KEY)
    assert (get.method, get.url, get.idempotent) == ("GET", job.status_url, True)
    cancel = rep.cancel_request(job, key=KEY)
    assert cancel is not None and (cancel.method, cancel.url) == ("POST", job.cancel_url)


def test_download_headers_only_for_replicate_hosts() -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert rep.download_headers("https://replicate.delivery/pbxt/x/out-0.png", key=KEY) == auth
    assert rep.download_headers("https://pbxt.replicate.delivery/x.png", key=KEY) == auth
    assert rep.download_headers("https://api.replicate.com/v1/files/abc", key=KEY) == auth
    assert rep.download_headers("https://evil.example/replicate.delivery.png", key=KEY) == {}
    assert rep.download_headers("https://notreplicate.delivery/x.png", key=KEY) == {}


# -- statuses and outputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("starting", "queued"),
        ("processing", "running"),
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("canceled", "canceled"),
        ("aborted", "aborted"),
    ],
)
def test_statuses(raw: str, state: str) -> None:
    status = rep.parse_status(response(200, prediction(raw), method="GET"))
    assert status.state == state


def test_unknown_status() -> None:
    with pytest.raises(GenctlError) as caught:
        rep.parse_status(response(200, prediction("melting"), method="GET"))
    assert caught.value.code == "provider.unavailable"


def test_output_only_final_when_terminal() -> None:
    early = prediction("processing", output=["https://replicate.delivery/a.png"], logs="step 1\nstep 2\nste")
    status = rep.parse_status(response(200, early, method="GET"))
    assert status.outputs is None
    assert status.logs == ("step 1", "step 2")  # the partial last line waits for the next poll
    done = prediction("succeeded", output=["https://replicate.delivery/a.png"], logs="step 1\nstep 2\nstep 3")
    final = rep.parse_status(response(200, done, method="GET"))
    assert final.logs == ("step 1", "step 2", "step 3")
    assert final.outputs == (Output("https://replicate.delivery/a.png", "image/png", "a.png"),)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "https://replicate.delivery/pbxt/x/out-0.webp",
            (Output("https://replicate.delivery/pbxt/x/out-0.webp", "image/webp", "out-0.webp"),),
        ),
        (
            ["https://replicate.delivery/a.mp4", "https://replicate.delivery/b.mp4"],
            (
                Output("https://replicate.delivery/a.mp4", "video/mp4", "a.mp4"),
                Output("https://replicate.delivery/b.mp4", "video/mp4", "b.mp4"),
            ),
        ),
        ("data:audio/wav;base64,UklGRg==", (Output("data:audio/wav;base64,UklGRg==", "audio/wav"),)),
        ("hello Alice", (Output(url=None, value="hello Alice"),)),
        (["hel", "lo"], (Output(url=None, value=["hel", "lo"]),)),
        ({"score": 0.9}, (Output(url=None, value={"score": 0.9}),)),
        (None, ()),
    ],
)
def test_outputs_from(output: Any, expected: tuple[Output, ...]) -> None:
    assert outputs_from(output) == expected


def test_parse_result_keeps_raw() -> None:
    body = prediction("succeeded", output="https://replicate.delivery/a.png")
    result = rep.parse_result(response(200, body, method="GET"))
    assert result.raw == body and result.outputs[0].url == "https://replicate.delivery/a.png"


def test_error_from_status() -> None:
    job = Job("replicate", "o/n", "p-1", f"{API}/predictions/p-1")
    failed = rep.error_from_status(job, JobStatus(state="failed", error="CUDA error: out of memory"))
    assert (failed.code, failed.request_id) == ("generation.failed", "p-1") and "CUDA error" in failed.message
    assert rep.error_from_status(job, JobStatus(state="canceled")).code == "generation.canceled"
    aborted = rep.error_from_status(job, JobStatus(state="aborted"))
    assert aborted.code == "generation.aborted" and "charged" in aborted.fix
    expired = rep.error_from_status(job, JobStatus(state="succeeded", data_removed=True))
    assert (expired.code, expired.exit_code) == ("output.expired", 1)
    nsfw = rep.error_from_status(job, JobStatus(state="failed", error="NSFW content detected. Try again."))
    assert nsfw.code == "content.policy"


def test_upload_request_and_parse() -> None:
    request = rep.upload_request(file_name="cat.png", data=b"\x89PNG", content_type="image/png", key=KEY)
    assert (request.method, request.url) == ("POST", f"{API}/files")
    assert request.files == {"content": ("cat.png", b"\x89PNG", "image/png")}
    body = {"id": "f1", "name": "cat.png", "urls": {"get": f"{API}/files/f1"}}
    assert rep.parse_upload(response(201, body, url=f"{API}/files")) == f"{API}/files/f1"
    with pytest.raises(GenctlError):
        rep.parse_upload(response(201, {"id": "f1"}, url=f"{API}/files"))


# -- errors: every body of replicate-api.md §2.3 ----------------------------------------------------------


def test_401_no_token() -> None:
    body = {"title": "Unauthenticated", "detail": "You did not pass an authentication token", "status": 401}
    err = mapped(response(401, body, auth=False), key=None)
    assert (err.code, err.exit_code) == ("key.missing", 3)
    assert "REPLICATE_API_TOKEN" in err.fix


def test_401_bad_token() -> None:
    body = {
        "title": "Unauthenticated",
        "detail": "You did not pass a valid authentication token",
        "status": 401,
    }
    err = mapped(response(401, body))
    assert (
        err.code == "key.invalid"
        and "valid authentication token" in err.message
        and KEY.masked in err.message
    )


def test_402_billing_required() -> None:
    body = {
        "title": "Billing required",
        "detail": "You need to set up billing to run this model. Go to "
        "https://replicate.com/account/billing#billing to set it up. If you have recently set up billing, "
        "please wait a few minutes before trying again.",
        "status": 402,
    }
    err = mapped(response(402, body))
    assert err.code == "billing.required" and "Billing required" in err.message
    assert "Set up billing at https://replicate.com/account/billing#billing," in err.fix


def test_402_insufficient_credit() -> None:
    body = {
        "title": "Insufficient credit",
        "detail": "You have insufficient credit to run this model. Go to "
        "https://replicate.com/account/billing#billing to purchase credit. Once you purchase credit, please "
        "wait a few minutes before trying again.",
        "status": 402,
    }
    err = mapped(response(402, body))
    assert err.code == "billing.required" and "Insufficient credit" in err.message
    assert err.fix.startswith("Buy credit at https://replicate.com/account/billing#billing")


def test_403_cloudflare_html() -> None:
    page = (
        "<html><head><title>Attention Required! | Cloudflare</title></head>"
        "<body>Sorry, you have been blocked</body></html>"
    )
    err = mapped(response(403, text=page, headers={"content-type": "text/html"}))
    assert err.code == "blocked.cloudflare" and "not a key problem" in err.message
    challenge = response(403, text="<html>Just a moment...</html>", headers={"cf-mitigated": "challenge"})
    assert mapped(challenge).code == "blocked.cloudflare"


def test_404_models_endpoint() -> None:
    body = {"detail": "The requested resource could not be found.", "status": 404}
    err = mapped(response(404, body, url=f"{API}/models/acme/nope/predictions"), model="acme/nope")
    assert (err.code, err.exit_code) == ("model.not_found", 4)
    assert "acme/nope" in err.message and "could not be found" in err.message


def test_404_prediction_carries_its_id() -> None:
    body = {"detail": "The requested resource could not be found.", "status": 404}
    err = mapped(response(404, body, method="GET", url=f"{API}/predictions/p-77"))
    assert err.request_id == "p-77"


def test_422_invalid_version_without_version_needs_one() -> None:
    body = {
        "title": "Invalid version or not permitted",
        "detail": "The specified version does not exist (or perhaps you don't have permission to use it?)",
        "status": 422,
    }
    err = mapped(response(422, body), model="acme/community-model")
    assert err.code == "model.needs_version"
    assert "acme/community-model:<version id>" in err.fix
    assert "https://replicate.com/acme/community-model/versions" in err.fix


def test_422_invalid_version_with_version_is_not_found() -> None:
    body = {
        "title": "Invalid version or not permitted",
        "detail": "The specified version does not exist (or perhaps you don't have permission to use it?)",
        "status": 422,
    }
    err = mapped(response(422, body, url=f"{API}/predictions"), model=f"acme/m:{VERSION}")
    assert err.code == "model.not_found"
    assert VERSION in err.message and "version id is wrong" in err.fix


def test_422_input_validation() -> None:
    body = {
        "detail": "- input: prompt is required\n"
        "- input.num_inference_steps: Must be less than or equal to 4\n",
        "status": 422,
        "title": "Input validation failed",
        "invalid_fields": [
            {"type": "required", "field": "input", "description": "prompt is required"},
            {
                "type": "number_lte",
                "field": "input.num_inference_steps",
                "description": "Must be less than or equal to 4",
            },
        ],
    }
    err = mapped(response(422, body))
    assert (err.code, err.exit_code) == ("payload.invalid", 5)
    assert "prompt: prompt is required; num_inference_steps: Must be less than or equal to 4" in err.message
    assert err.details["fields"] == [
        # Replicate reports a missing field on its parent ("input"); the field is named in the description.
        {"field": "prompt", "message": "prompt is required", "type": "required"},
        {"field": "num_inference_steps", "message": "Must be less than or equal to 4", "type": "number_lte"},
    ]


def test_422_required_field_of_a_nested_object() -> None:
    body = {
        "detail": "- input.image_size: width is required\n",
        "status": 422,
        "title": "Input validation failed",
        "invalid_fields": [
            {"type": "required", "field": "input.image_size", "description": "width is required"}
        ],
    }
    err = mapped(response(422, body))
    assert err.details["fields"] == [
        {"field": "image_size.width", "message": "width is required", "type": "required"}
    ]


def test_413_file_too_large() -> None:
    err = mapped(response(413, {"detail": "Files must be less than 100MB in size"}, url=f"{API}/files"))
    assert err.code == "payload.invalid" and "100MB" in err.message


@pytest.mark.parametrize(
    ("body", "headers", "wait"),
    [
        ({"detail": "Request was throttled. Your rate limit resets in ~30s."}, {}, 30.0),
        (
            {
                "detail": "Request was throttled. Your rate limit resets in ~5s.",
                "status": 429,
                "retry_after": 5,
            },
            {},
            5.0,
        ),
        ({"title": "Request was throttled", "detail": "throttled"}, {"Retry-After": "8"}, 8.0),
    ],
)
def test_429(body: dict[str, Any], headers: dict[str, str], wait: float) -> None:
    err = mapped(response(429, body, headers=headers))
    assert (err.code, err.exit_code, err.details["retry_after"]) == ("rate.limited", 6, wait)


def test_5xx_and_unknown() -> None:
    assert mapped(response(500, {"detail": "Search service error"})).code == "provider.unavailable"
    assert mapped(response(503, text="upstream connect error")).code == "provider.unavailable"
    odd = mapped(response(405, {"detail": 'Method "POST" not allowed.'}))
    assert odd.code == "provider.unavailable" and "405" in odd.message
