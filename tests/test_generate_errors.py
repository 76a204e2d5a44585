"""Every failure `genctl generate` can meet, through the CLI against the sandbox: code, fix, exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from tests.support import fal_env, replicate_env, signal_when_seen


def error_of(run) -> dict:  # type: ignore[no-untyped-def]
    doc = json.loads(run.stdout)
    assert doc["ok"] is False
    assert "Traceback" not in run.stderr
    assert f"Error [{doc['error']['code']}]" in run.stderr
    assert "Fix: " in run.stderr
    return doc["error"]


@pytest.mark.parametrize(
    ("key", "code", "in_message", "in_fix"),
    [
        # A key without a colon is never sent (its key.format is local): tests/test_hostile_keys.py.
        (sk.FAL_KEY_UNKNOWN, "key.invalid", "No user found for Key ID and Secret", "fal.ai/dashboard/keys"),
        (sk.FAL_KEY_LOCKED_BALANCE, "key.locked", "Exhausted balance", "fal.ai/dashboard/billing"),
        (sk.FAL_KEY_LOCKED_ADMIN, "key.locked", "Admin lock", "support@fal.ai"),
    ],
)
def test_fal_key_problems(
    genctl, sandbox: Sandbox, key: str, code: str, in_message: str, in_fix: str
) -> None:
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox, key))
    assert run.exit_code == 3
    err = error_of(run)
    assert err["code"] == code
    assert err["provider"] == "fal"
    assert err["http_status"] in (401, 403)
    assert in_message in err["message"]
    assert in_fix in err["fix"]


def test_locked_account_says_a_new_key_will_not_help(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "--json", env=fal_env(sandbox, sk.FAL_KEY_LOCKED_BALANCE))
    assert "new key" in error_of(run)["fix"]


@pytest.mark.parametrize(
    ("token", "code", "status", "in_fix"),
    [
        (sk.REPLICATE_TOKEN_INVALID, "key.invalid", 401, "replicate.com/account/api-tokens"),
        (sk.REPLICATE_TOKEN_NO_BILLING, "billing.required", 402, "replicate.com/account/billing"),
        (sk.REPLICATE_TOKEN_NO_CREDIT, "billing.required", 402, "replicate.com/account/billing"),
    ],
)
def test_replicate_key_problems(
    genctl, sandbox: Sandbox, token: str, code: str, status: int, in_fix: str
) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "black-forest-labs/flux-schnell",
        "--json",
        env=replicate_env(sandbox, token),
    )
    assert run.exit_code == 3
    err = error_of(run)
    assert (err["code"], err["http_status"], err["provider"]) == (code, status, "replicate")
    assert in_fix in err["fix"]


def test_cloudflare_block_is_not_a_key_problem(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.cloudflare(provider="fal.queue", method="POST"))
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox))
    assert run.exit_code == 7
    err = error_of(run)
    assert err["code"] == "blocked.cloudflare"
    assert err["http_status"] == 403
    assert "not a key problem" in err["message"] + err["fix"]


@pytest.mark.parametrize(
    ("model", "suggestion"),
    [("fal-ai/flux-dev", "fal-ai/flux/dev"), ("fal-ai/flux-schnell", "fal-ai/flux/schnell")],
)
def test_unknown_fal_app_suggests_the_real_id(genctl, sandbox: Sandbox, model: str, suggestion: str) -> None:
    run = genctl("generate", "a fox", "-m", model, "--json", env=fal_env(sandbox))
    assert run.exit_code == 4
    err = error_of(run)
    assert err["code"] == "model.not_found"
    assert err["http_status"] == 404
    assert suggestion in err["fix"]


def test_unknown_replicate_model(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "nobody/no-such-model",
        "--provider",
        "replicate",
        "--json",
        env=replicate_env(sandbox),
    )
    assert run.exit_code == 4
    assert error_of(run)["code"] == "model.not_found"


def test_fal_422_is_rendered_field_by_field(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/schnell",
        "-p",
        "num_images=99",
        "--no-validate",  # the provider's own 422, not genctl's pre-flight check (tests/test_preflight.py)
        "--json",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 5
    err = error_of(run)
    assert err["code"] == "payload.invalid"
    assert err["http_status"] == 422
    assert "num_images" in err["message"]
    assert [f["field"] for f in err["details"]["fields"]] == ["num_images"]


def test_replicate_422_invalid_fields(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "black-forest-labs/flux-schnell",
        "-p",
        "num_inference_steps=50",
        "--no-validate",  # the provider's own 422, not genctl's pre-flight check
        "--json",
        env=replicate_env(sandbox),
    )
    assert run.exit_code == 5
    err = error_of(run)
    assert err["code"] == "payload.invalid"
    assert "num_inference_steps" in err["message"]


def test_content_policy(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "[sandbox:nsfw] a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox))
    assert run.exit_code == 5
    assert error_of(run)["code"] == "content.policy"


@pytest.mark.parametrize("retry_after", [7, None])
def test_rate_limited_submit_is_not_retried_past_the_deadline(
    genctl, sandbox: Sandbox, retry_after: int | None
) -> None:
    # With time left, genctl sleeps out the hint (or a backoff) and retries: tests/test_keys_failover.py.
    sandbox.inject(Fault.rate_limited("fal.queue", retry_after=retry_after, method="POST"))
    args = ("generate", "a fox", "-m", "fal-ai/flux/dev", "--json", "--timeout", "0.4")
    run = genctl(*args, env=fal_env(sandbox))
    assert run.exit_code == 6
    err = error_of(run)
    assert err["code"] == "rate.limited"
    if retry_after:
        assert "7" in err["message"] + err["fix"]
    assert sandbox.count(method="POST") == 1


def test_replicate_429_reads_the_hint_from_the_body(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.rate_limited("replicate", retry_after=None, method="POST"))
    args = ("generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--json", "--timeout", "0.4")
    run = genctl(*args, env=replicate_env(sandbox))
    assert run.exit_code == 6
    err = error_of(run)
    assert "5" in err["message"] + err["fix"]


def test_one_503_on_a_status_poll_is_retried(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.stream_refused(404))  # no status stream: the job is polled
    sandbox.inject(Fault.unavailable("fal.queue", 503, method="GET", path=r"/status$", times=1))
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert sandbox.count(r"/status$") == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_5xx_on_submit_is_provider_unavailable(genctl, sandbox: Sandbox, status: int) -> None:
    sandbox.inject(Fault.unavailable("fal.queue", status, method="POST"))
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox))
    assert run.exit_code == 7
    err = error_of(run)
    assert (err["code"], err["http_status"]) == ("provider.unavailable", status)
    assert sandbox.count(method="POST") == 1  # the paid POST is never retried once it reached the server


def test_dropped_connection_on_submit(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.drop(provider="fal.queue", method="POST"))
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox))
    assert run.exit_code == 7
    assert error_of(run)["code"].startswith("network.")


def test_refused_connection(genctl, sandbox: Sandbox) -> None:
    env = {**fal_env(sandbox), "GENCTL_FAL_QUEUE_URL": "http://127.0.0.1:9/fal/queue"}
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env=env)
    assert run.exit_code == 7
    assert error_of(run)["code"] == "network.connect"


def test_slow_status_poll_times_out_then_recovers(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[providers.fal]\ntimeout = 0.3\n")
    sandbox.inject(Fault.stream_refused(404))  # no status stream: the job is polled
    sandbox.inject(Fault.slow(1.0, provider="fal.queue", path=r"/status$", times=1))
    run = genctl(
        "--config", str(config), "generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox)
    )
    assert run.exit_code == 0, run.stderr


@pytest.mark.parametrize(
    ("directive", "code"),
    [
        ("[sandbox:fail]", "generation.failed"),
        ("[sandbox:aborted]", "generation.aborted"),
        ("[sandbox:canceled]", "generation.canceled"),
        ("[sandbox:data_removed]", "output.expired"),
    ],
)
def test_replicate_terminal_failures(genctl, sandbox: Sandbox, directive: str, code: str) -> None:
    run = genctl(
        "generate",
        f"{directive} a fox",
        "-m",
        "black-forest-labs/flux-schnell",
        "--json",
        env=replicate_env(sandbox),
    )
    assert run.exit_code == 1
    err = error_of(run)
    assert err["code"] == code
    assert err["request_id"]


def test_fal_model_failure(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "[sandbox:fail] a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox))
    assert run.exit_code == 1
    err = error_of(run)
    assert err["code"] == "generation.failed"
    assert err["request_id"]


def test_timeout_cancels_the_job_and_names_it(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "[sandbox:hang] a fox",
        "-m",
        "fal-ai/flux/dev",
        "--timeout",
        "0.5",
        "--json",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 7
    err = error_of(run)
    assert err["code"] == "generation.timeout"
    [cancel] = sandbox.cancels
    assert cancel.request_id in err["message"]
    assert "--timeout" in err["fix"]


def test_ctrl_c_cancels_the_remote_job(sandbox: Sandbox, tmp_path: Path) -> None:
    args = ["generate", "[sandbox:hang] a fox", "-m", "fal-ai/flux/dev"]
    proc = signal_when_seen(args, box=sandbox, env=fal_env(sandbox), pattern=r"/status(/stream)?$")
    stdout, stderr = proc.stdout, proc.stderr
    assert proc.returncode == 130, stderr
    assert stdout == ""
    [cancel] = sandbox.cancels
    assert cancel.request_id in stderr
    assert "Traceback" not in stderr


def test_cut_download_leaves_no_file(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.inject(Fault.drop_mid_body(provider="media"))
    run = genctl(
        "generate",
        "[sandbox:big=3000000] a fox",
        "-m",
        "fal-ai/flux/dev",
        "-o",
        "out",
        "--json",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 7
    err = error_of(run)
    assert err["code"] == "network.connect"
    assert list((tmp_path / "out").iterdir()) == []


def test_json_error_shape_is_the_contract(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "-m", "fal-ai/flux-dev", "--json", env=fal_env(sandbox))
    doc = json.loads(run.stdout)
    assert set(doc) == {"ok", "error"}
    assert {"code", "message", "fix", "provider", "http_status"} <= set(doc["error"])


def test_download_dropped_before_the_headers(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.inject(Fault.drop(provider="media"))
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "-o", "out", "--json", env=fal_env(sandbox))
    assert run.exit_code == 7
    assert error_of(run)["code"] == "network.connect"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
