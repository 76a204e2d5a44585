"""The runner, providers and uploads against the sandbox emulator over real loopback HTTP; sleeps injected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from genctl.errors import GenctlError
from genctl.http import RetryPolicy, make_client
from genctl.inputs import resolve_input
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider
from genctl.runner import Event, run_generation
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from genctl.sandbox.catalog_replicate import SDXL_VERSION
from genctl.values import Key
from tests.support import FakeTime

FLUX = "fal-ai/flux/dev"
SCHNELL = "black-forest-labs/flux-schnell"
NO_JITTER = RetryPolicy(jitter=0.0)


def fal_key(secret: str = sk.FAL_KEY_OK) -> Key:
    return Key(provider="fal", label="test", source="test", _secret=secret)


def rep_key(secret: str = sk.REPLICATE_TOKEN_OK) -> Key:
    return Key(provider="replicate", label="test", source="test", _secret=secret)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with make_client(timeout=10, connect_timeout=5) as client:
        yield client


def fal_of(box: Sandbox) -> FalProvider:
    env = box.env()
    return FalProvider(queue_url=env["GENCTL_FAL_QUEUE_URL"], rest_url=env["GENCTL_FAL_REST_URL"])


def rep_of(box: Sandbox, **kwargs: Any) -> ReplicateProvider:
    return ReplicateProvider(api_url=box.env()["GENCTL_REPLICATE_API_URL"], **kwargs)


def run(box: Sandbox, http: httpx.Client, provider: str, params: dict[str, Any], **kwargs: Any) -> Any:
    t = kwargs.pop("time", None) or FakeTime()
    kwargs.setdefault("sleep", t.sleep)
    kwargs.setdefault("policy", NO_JITTER)
    if provider == "fal":
        kwargs.setdefault("key", fal_key())
        kwargs.setdefault("model", FLUX)
        return run_generation(provider=fal_of(box), client=http, params=params, clock=t.clock, **kwargs)
    kwargs.setdefault("key", rep_key())
    kwargs.setdefault("model", SCHNELL)
    return run_generation(provider=rep_of(box), client=http, params=params, clock=t.clock, **kwargs)


def failure(
    box: Sandbox, http: httpx.Client, provider: str, params: dict[str, Any], **kwargs: Any
) -> GenctlError:
    with pytest.raises(GenctlError) as caught:
        run(box, http, provider, params, **kwargs)
    err = caught.value
    secrets = (
        sk.FAL_KEY_OK,
        sk.FAL_KEY_OK.split(":")[1],
        sk.REPLICATE_TOKEN_OK,
        kwargs.get("key", fal_key()).reveal(),
    )
    for text in (str(err), repr(err), json.dumps(err.to_json())):
        assert not any(secret in text for secret in secrets)
    return err


# -- fal ----------------------------------------------------------------------------------------------------


def test_fal_queue_positions_logs_and_result(sandbox: Sandbox, http: httpx.Client) -> None:
    events: list[Event] = []
    t = FakeTime()
    job, result = run(
        sandbox,
        http,
        "fal",
        {"prompt": "a fox [sandbox:queue=3] [sandbox:progress=2]"},
        on_event=events.append,
        time=t,
    )
    assert [(e.kind, e.queue_position, e.message) for e in events] == [
        ("submitting", None, None),
        ("submitted", None, None),
        ("queued", 3, "#3"),
        ("queued", 2, "#2"),
        ("queued", 1, "#1"),
        ("queued", 0, "#0"),
        ("running", None, None),
        ("log", None, "step 1/2"),
        ("log", None, "step 2/2"),
        ("completed", None, None),
    ]
    [output] = result.outputs
    assert (
        output.url is not None and output.url.startswith(sandbox.url) and output.content_type == "image/png"
    )
    assert http.get(output.url).content.startswith(b"\x89PNG")
    assert sandbox.count(r"/fal/queue/fal-ai/flux/requests/[^/]+/status$", method="GET") == 6
    assert sandbox.count(r"/fal/queue/fal-ai/flux/dev$", method="POST") == 1
    assert t.sleeps == [0.25, 0.375, 0.5625, 0.84375, 1.265625]  # 6 polls: the first at once
    assert job.request_id and sandbox.job(job.request_id) is not None


def test_fal_model_failure_is_generation_failed(sandbox: Sandbox, http: httpx.Client) -> None:
    err = failure(sandbox, http, "fal", {"prompt": "a fox [sandbox:fail]"})
    assert err.code == "generation.failed" and err.request_id


def test_fal_content_policy(sandbox: Sandbox, http: httpx.Client) -> None:
    err = failure(sandbox, http, "fal", {"prompt": "a fox [sandbox:nsfw]"})
    assert (err.code, err.http_status) == ("content.policy", 422) and err.request_id


def test_fal_validation_fields(sandbox: Sandbox, http: httpx.Client) -> None:
    err = failure(sandbox, http, "fal", {"prompt": "a fox", "num_images": 99})
    assert (err.code, err.exit_code) == ("payload.invalid", 5)
    assert [f["field"] for f in err.details["fields"]] == ["num_images"]


@pytest.mark.parametrize(
    ("secret", "code", "fix"),
    [
        (sk.FAL_KEY_UNKNOWN, "key.invalid", "fal.ai/dashboard/keys"),
        (sk.FAL_KEY_NO_COLON, "key.format", "<key_id>:<key_secret>"),
        (sk.FAL_KEY_LOCKED_BALANCE, "key.locked", "fal.ai/dashboard/billing"),
        (sk.FAL_KEY_LOCKED_TOPUP, "key.locked", "fal.ai/dashboard/billing"),
        (sk.FAL_KEY_LOCKED_ADMIN, "key.locked", "support@fal.ai"),
    ],
)
def test_fal_key_problems(sandbox: Sandbox, http: httpx.Client, secret: str, code: str, fix: str) -> None:
    err = failure(sandbox, http, "fal", {"prompt": "a fox"}, key=fal_key(secret))
    assert (err.code, err.exit_code) == (code, 3) and fix in err.fix


def test_fal_unknown_app_suggests_split(sandbox: Sandbox, http: httpx.Client) -> None:
    err = failure(sandbox, http, "fal", {"prompt": "a fox"}, model="fal-ai/flux-dev")
    assert err.code == "model.not_found" and "'flux-dev'" in err.message and "fal-ai/flux/dev" in err.fix


def test_fal_cloudflare_block(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.inject(Fault.cloudflare("fal.queue", method="POST"))
    err = failure(sandbox, http, "fal", {"prompt": "a fox"})
    assert (err.code, err.exit_code) == ("blocked.cloudflare", 7)


def test_fal_deadline_cancels_the_job(sandbox: Sandbox, http: httpx.Client) -> None:
    err = failure(sandbox, http, "fal", {"prompt": "a fox [sandbox:hang]"}, deadline=4.0)
    assert err.code == "generation.timeout" and err.request_id in err.message and "--timeout" in err.fix
    [cancel] = sandbox.cancels
    assert (cancel.provider, cancel.request_id, cancel.phase) == ("fal", err.request_id, "running")


def test_fal_ctrl_c_cancels_the_job(sandbox: Sandbox, http: httpx.Client) -> None:
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt

    err = failure(sandbox, http, "fal", {"prompt": "a fox [sandbox:hang]"}, sleep=nap)
    assert (err.code, err.exit_code) == ("interrupted", 130)
    [cancel] = sandbox.cancels
    assert cancel.request_id == err.request_id


def test_fal_status_retries_honour_retry_after(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.inject(
        Fault.http(
            503,
            {"detail": "busy"},
            headers={"Retry-After": "3"},
            provider="fal.queue",
            path=r"/status$",
            times=1,
        )
    )
    sandbox.inject(Fault.rate_limited("fal.queue", retry_after=7, path=r"/status$", times=1))
    sandbox.inject(Fault.drop(provider="fal.queue", path=r"/status$", times=1))
    t, events = FakeTime(), []
    run(sandbox, http, "fal", {"prompt": "a fox"}, time=t, on_event=events.append)
    assert t.sleeps == [
        3.0,
        7.0,
        2.0,
    ]  # first poll at once, Retry-After 3, Retry-After 7, backoff after the drop
    assert [e.kind for e in events].count("retry") == 3


def test_fal_submit_not_retried_on_503_or_a_dropped_connection(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.inject(Fault.unavailable("fal.queue", 503, method="POST", times=1))
    assert failure(sandbox, http, "fal", {"prompt": "a fox"}).code == "provider.unavailable"
    sandbox.inject(Fault.drop(provider="fal.queue", method="POST", times=1))
    assert failure(sandbox, http, "fal", {"prompt": "a fox"}).code == "network.connect"
    assert sandbox.count(r"/fal/queue/fal-ai/flux/dev$", method="POST") == 2  # one per run, none retried


def test_fal_start_timeout_504(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.inject(
        Fault.http(
            504,
            {"detail": "Request timed out", "error_type": "request_timeout"},
            headers={"X-Fal-Request-Timeout-Type": "user"},
            provider="fal.queue",
            method="POST",
        )
    )
    err = failure(sandbox, http, "fal", {"prompt": "a fox"})
    assert err.code == "generation.timeout"


# -- Replicate ----------------------------------------------------------------------------------------------


def test_replicate_flow(sandbox: Sandbox, http: httpx.Client) -> None:
    events: list[Event] = []
    job, result = run(
        sandbox,
        http,
        "replicate",
        {"prompt": "a fox [sandbox:queue=1] [sandbox:progress=2]"},
        on_event=events.append,
        deadline=60,
    )
    assert [e.kind for e in events][:3] == ["submitting", "submitted", "queued"] and events[
        -1
    ].kind == "completed"
    assert [e.message for e in events if e.kind == "log"]  # progress lines arrive as logs
    [output] = result.outputs
    assert output.url is not None and output.url.startswith(sandbox.url)
    assert result.raw["id"] == job.request_id and result.raw["status"] == "succeeded"
    stored = sandbox.job(job.request_id)
    assert stored is not None and stored.deadline is not None  # Cancel-After reached the server


def test_replicate_prefer_wait(sandbox: Sandbox, http: httpx.Client) -> None:
    t = FakeTime()
    _, result = run_generation(
        provider=rep_of(sandbox, wait=5),
        client=http,
        model=SCHNELL,
        params={"prompt": "a fox"},
        key=rep_key(),
        clock=t.clock,
        sleep=t.sleep,
    )
    assert result.outputs and t.sleeps == []
    assert sandbox.count(r"/predictions/[^/]+$", method="GET") == 0


def test_replicate_version_endpoint(sandbox: Sandbox, http: httpx.Client) -> None:
    _, result = run(
        sandbox, http, "replicate", {"prompt": "a fox"}, model=f"stability-ai/sdxl:{SDXL_VERSION}"
    )
    assert result.outputs
    assert sandbox.count(r"/replicate/v1/predictions$", method="POST") == 1


def test_replicate_community_model_needs_version(sandbox: Sandbox, http: httpx.Client) -> None:
    err = failure(sandbox, http, "replicate", {"prompt": "a fox"}, model="stability-ai/sdxl")
    assert (err.code, err.exit_code) == ("model.needs_version", 4)
    assert "stability-ai/sdxl:<version id>" in err.fix
    wrong = failure(sandbox, http, "replicate", {"prompt": "a fox"}, model="stability-ai/sdxl:" + "0" * 64)
    assert wrong.code == "model.not_found" and "version id is wrong" in wrong.fix


@pytest.mark.parametrize(
    ("directive", "code"),
    [
        ("fail", "generation.failed"),
        ("aborted", "generation.aborted"),
        ("canceled", "generation.canceled"),
        ("data_removed", "output.expired"),
        ("nsfw", "content.policy"),
    ],
)
def test_replicate_terminal_failures(sandbox: Sandbox, http: httpx.Client, directive: str, code: str) -> None:
    err = failure(sandbox, http, "replicate", {"prompt": f"a fox [sandbox:{directive}]"})
    assert err.code == code and err.request_id


@pytest.mark.parametrize(
    ("secret", "code"),
    [
        (sk.REPLICATE_TOKEN_INVALID, "key.invalid"),
        (sk.REPLICATE_TOKEN_NO_BILLING, "billing.required"),
        (sk.REPLICATE_TOKEN_NO_CREDIT, "billing.required"),
    ],
)
def test_replicate_token_problems(sandbox: Sandbox, http: httpx.Client, secret: str, code: str) -> None:
    err = failure(sandbox, http, "replicate", {"prompt": "a fox"}, key=rep_key(secret))
    assert (err.code, err.exit_code) == (code, 3)


def test_replicate_validation_and_rate_limit(sandbox: Sandbox, http: httpx.Client) -> None:
    err = failure(sandbox, http, "replicate", {"num_outputs": 99})
    assert err.code == "payload.invalid"
    assert {f["field"] for f in err.details["fields"]} == {"prompt", "num_outputs"}  # "prompt is required"
    sandbox.inject(Fault.rate_limited("replicate", retry_after=None, method="POST", times=1))
    limited = failure(sandbox, http, "replicate", {"prompt": "a fox"})
    assert (limited.code, limited.details["retry_after"]) == ("rate.limited", 5.0)


def test_replicate_ctrl_c_cancels(sandbox: Sandbox, http: httpx.Client) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    err = failure(sandbox, http, "replicate", {"prompt": "a fox [sandbox:hang]"}, sleep=interrupt)
    assert err.code == "interrupted"
    [cancel] = sandbox.cancels
    assert (cancel.provider, cancel.request_id) == ("replicate", err.request_id)


# -- uploads ------------------------------------------------------------------------------------------------


@pytest.fixture
def big_png(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    return path


def test_fal_upload_via_fal_client(sandbox: Sandbox, http: httpx.Client, big_png: Path) -> None:
    url = resolve_input(
        str(big_png), provider=fal_of(sandbox), key=fal_key(), client=http, upload_threshold=100
    )
    assert url.startswith(sandbox.url)
    assert http.get(url).content == big_png.read_bytes()
    assert sandbox.count(r"^/fal/rest/storage/auth/token", method="POST") == 1


def test_fal_upload_locked_account(sandbox: Sandbox, http: httpx.Client, big_png: Path) -> None:
    with pytest.raises(GenctlError) as caught:
        resolve_input(
            str(big_png),
            provider=fal_of(sandbox),
            key=fal_key(sk.FAL_KEY_LOCKED_BALANCE),
            client=http,
            upload_threshold=100,
        )
    assert caught.value.code == "key.locked"
    assert sk.FAL_KEY_LOCKED_BALANCE not in str(caught.value) + repr(caught.value)


def test_replicate_upload_then_generate(sandbox: Sandbox, http: httpx.Client, big_png: Path) -> None:
    url = resolve_input(
        str(big_png), provider=rep_of(sandbox), key=rep_key(), client=http, upload_threshold=100
    )
    assert url.startswith(sandbox.url) and "/files/" in url
    _, result = run(
        sandbox,
        http,
        "replicate",
        {"prompt": "a fox", "image": url},
        model=f"stability-ai/sdxl:{SDXL_VERSION}",
    )
    assert result.outputs
