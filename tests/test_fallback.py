"""Provider fallback end to end against the sandbox: when genctl moves from fal.ai to Replicate, when not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from genctl.errors import error
from genctl.fallback import allows
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from tests.support import PNG

LOCKED = (
    "fal locked the account of key env:FAL_KEY: User is locked. Reason: Exhausted balance. "
    "Top up your balance at fal.ai/dashboard/billing."
)


def env(box: Sandbox, fal: str = sk.FAL_KEY_LOCKED_BALANCE, **extra: str) -> dict[str, str]:
    """fal.ai (locked by default) and Replicate keys, fallback from fal to Replicate on."""
    return {
        **box.env(),
        "FAL_KEY": fal,
        "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK,
        "GENCTL_FALLBACK": "fal,replicate",
        **extra,
    }


def posts(box: Sandbox, host: str) -> int:
    return box.count(method="POST", host=host)


def ok(run: Any) -> dict[str, Any]:
    assert run.exit_code == 0, run.stderr
    doc: dict[str, Any] = json.loads(run.stdout)
    return doc


def failed(run: Any, exit_code: int) -> dict[str, Any]:
    assert run.exit_code == exit_code, run.stderr
    doc = json.loads(run.stdout)
    assert doc["ok"] is False and "Traceback" not in run.stderr
    err: dict[str, Any] = doc["error"]
    return err


# -- fal.ai cannot serve: Replicate does -------------------------------------------------------------------


def test_a_locked_fal_account_falls_back_to_replicate_with_the_params_translated(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    args = ("-m", "flux-schnell", "-p", "image_size=landscape_16_9", "-p", "num_images=2", "--json")
    doc = ok(genctl("generate", "a fox", *args, env=env(sandbox)))
    assert (doc["provider"], doc["model"], doc["alias"]) == (
        "replicate",
        "black-forest-labs/flux-schnell",
        "flux-schnell",
    )
    assert doc["fallbacks"] == [{"provider": "fal", "code": "key.locked", "message": LOCKED}]
    job = sandbox.job(doc["request_id"])
    assert job is not None and job.input == {"prompt": "a fox", "aspect_ratio": "16:9", "num_outputs": 2}
    assert len(doc["outputs"]) == 2
    assert all((tmp_path / o["path"]).read_bytes().startswith(PNG) for o in doc["outputs"])
    assert (posts(sandbox, "fal.queue"), posts(sandbox, "replicate")) == (1, 1)


def test_the_fallback_notice_is_a_warning_and_stdout_keeps_only_the_paths(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/schnell", "--quiet", env=env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("black-forest-labs-flux-schnell-")  # a model id maps too
    assert run.stderr == f"Warning: fal.ai failed (key.locked: {LOCKED}); generated on Replicate instead\n"


def test_without_quiet_the_move_is_announced_as_it_happens(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "-m", "flux-schnell", env=env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert "fal.ai failed (key.locked); trying Replicate (black-forest-labs/flux-schnell)\n" in run.stderr


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.unavailable("fal.queue", 503, method="POST"), "provider.unavailable"),
        (Fault.cloudflare("fal.queue", method="POST"), "blocked.cloudflare"),
    ],
)
def test_fal_unable_to_take_the_submit_falls_back(genctl, sandbox: Sandbox, fault: Fault, code: str) -> None:
    sandbox.inject(fault)  # every submit, for as long as the test runs
    doc = ok(genctl("generate", "a fox", "-m", "flux-schnell", "--json", env=env(sandbox, fal=sk.FAL_KEY_OK)))
    assert doc["provider"] == "replicate"
    assert [(f["provider"], f["code"]) for f in doc["fallbacks"]] == [("fal", code)]
    # A paid submit that got an answer is never sent again to the same provider (genctl.http).
    assert (posts(sandbox, "fal.queue"), posts(sandbox, "replicate")) == (1, 1)


def test_no_fal_key_at_all_falls_back_when_the_fal_model_is_named(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env={**env(sandbox), "FAL_KEY": ""})
    doc = ok(run)
    assert (doc["provider"], doc["model"]) == ("replicate", "black-forest-labs/flux-dev")
    assert doc["fallbacks"][0]["code"] == "key.missing"
    assert posts(sandbox, "fal.queue") == 0


def test_every_provider_failing_reports_the_last_error_and_what_failed_before(
    genctl, sandbox: Sandbox
) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "flux-schnell",
        "--json",
        env=env(sandbox, REPLICATE_API_TOKEN=sk.REPLICATE_TOKEN_NO_BILLING),
    )
    err = failed(run, 3)
    assert (err["code"], err["provider"]) == ("billing.required", "replicate")
    assert err["details"]["fallbacks"] == [{"provider": "fal", "code": "key.locked", "message": LOCKED}]
    assert err["message"].endswith(f"\nTried first: fal.ai failed (key.locked: {LOCKED})")


# -- never: the request would fail anywhere, or a job was accepted -----------------------------------------


def test_input_fal_rejects_does_not_fall_back(genctl, sandbox: Sandbox) -> None:
    args = ("-m", "flux-schnell", "-p", "num_images=9", "--no-validate", "--json")
    err = failed(genctl("generate", "a fox", *args, env=env(sandbox, fal=sk.FAL_KEY_OK)), 5)
    assert (err["code"], err["provider"], err["http_status"]) == ("payload.invalid", "fal", 422)
    assert "fallbacks" not in err.get("details", {})
    assert (posts(sandbox, "fal.queue"), sandbox.count(host="replicate")) == (1, 0)


def test_input_the_pre_flight_rejects_does_not_fall_back(genctl, sandbox: Sandbox) -> None:
    args = ("-m", "flux-schnell", "-p", "num_images=9", "--json")
    err = failed(genctl("generate", "a fox", *args, env=env(sandbox, fal=sk.FAL_KEY_OK)), 5)
    assert (err["code"], err["provider"]) == ("payload.invalid", "fal")
    assert sandbox.count(method="POST") == 0 and sandbox.count(host="replicate") == 0


def test_an_accepted_fal_job_that_fails_is_not_run_again_on_replicate(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "[sandbox:fail] a fox",
        "-m",
        "flux-schnell",
        "--json",
        env=env(sandbox, fal=sk.FAL_KEY_OK),
    )
    err = failed(run, 1)
    assert (err["code"], err["provider"]) == ("generation.failed", "fal")
    assert err["request_id"]
    assert sandbox.count(host="replicate") == 0
    assert "trying Replicate" not in run.stderr


def test_an_accepted_job_whose_download_fails_is_not_run_again_on_replicate(genctl, sandbox: Sandbox) -> None:
    # The job succeeds; its download is cut off: network.connect, which before a submit would fall back.
    sandbox.inject(Fault.drop_mid_body(provider="media"))
    run = genctl("generate", "a fox", "-m", "flux-schnell", "--json", env=env(sandbox, fal=sk.FAL_KEY_OK))
    assert failed(run, 7)["code"] == "network.connect"
    assert (posts(sandbox, "fal.queue"), sandbox.count(host="replicate")) == (1, 0)


def test_a_submit_cut_off_after_it_was_sent_does_not_fall_back(genctl, sandbox: Sandbox) -> None:
    # The connection dropped after the request went out: fal may have the job, so a second one could be paid.
    sandbox.inject(Fault.drop(provider="fal.queue", method="POST"))
    err = failed(
        genctl("generate", "a fox", "-m", "flux-schnell", "--json", env=env(sandbox, fal=sk.FAL_KEY_OK)), 7
    )
    assert err["code"] == "network.connect"
    assert sandbox.count(host="replicate", method="POST") == 0


def test_a_model_no_alias_maps_does_not_fall_back(genctl, sandbox: Sandbox) -> None:
    err = failed(genctl("generate", "a fox", "-m", "fal-ai/aura-flow", "--json", env=env(sandbox)), 3)
    assert err["code"] == "key.locked"
    assert sandbox.count(host="replicate") == 0


def test_no_fallback_keeps_to_the_first_provider(genctl, sandbox: Sandbox) -> None:
    err = failed(
        genctl("generate", "a fox", "-m", "flux-schnell", "--no-fallback", "--json", env=env(sandbox)), 3
    )
    assert (err["code"], err["provider"]) == ("key.locked", "fal")
    assert sandbox.count(host="replicate") == 0


def test_fallback_is_off_unless_configured(genctl, sandbox: Sandbox) -> None:
    err = failed(
        genctl("generate", "a fox", "-m", "flux-schnell", "--json", env=env(sandbox, GENCTL_FALLBACK="")), 3
    )
    assert err["code"] == "key.locked"
    assert sandbox.count(host="replicate") == 0


def test_provider_pins_one_provider(genctl, sandbox: Sandbox) -> None:
    err = failed(
        genctl("generate", "a fox", "-m", "flux-schnell", "--provider", "fal", "--json", env=env(sandbox)), 3
    )
    assert err["code"] == "key.locked" and sandbox.count(host="replicate") == 0
    doc = ok(
        genctl(
            "generate", "a fox", "-m", "flux-schnell", "--provider", "replicate", "--json", env=env(sandbox)
        )
    )
    assert (doc["provider"], doc["fallbacks"]) == ("replicate", [])
    assert posts(sandbox, "fal.queue") == 1  # only the pinned-to-fal run above


# -- translation failures come before anything is sent -----------------------------------------------------


def test_an_untranslatable_param_is_refused_before_any_submit(genctl, sandbox: Sandbox) -> None:
    size = 'image_size={"width": 1000, "height": 700}'
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "flux-schnell",
        "-p",
        size,
        "--json",
        env=env(sandbox, GENCTL_FALLBACK="replicate,fal"),
    )
    err = failed(run, 5)
    assert (err["code"], err["provider"]) == ("payload.invalid", "replicate")
    assert err["message"].startswith(
        'black-forest-labs/flux-schnell on Replicate cannot take this input: image_size={"width": 1000, '
        '"height": 700} (10:7): it takes the size as aspect_ratio, one of 1:1, 16:9,'
    )
    assert sandbox.count(method="POST") == 0


def test_a_fallback_whose_params_cannot_be_translated_stops_before_replicate_is_paid(
    genctl, sandbox: Sandbox
) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "flux-schnell",
        "-p",
        "output_format=png",
        "-p",
        "acceleration=high",
        "--json",
        env=env(sandbox),
    )
    err = failed(run, 5)
    assert (err["code"], err["provider"]) == ("payload.invalid", "replicate")
    assert "unknown parameter acceleration" in err["message"]  # fal's own input: Replicate's schema has none
    assert err["details"]["fallbacks"][0]["code"] == "key.locked"
    assert posts(sandbox, "replicate") == 0


# -- the policy on its own -----------------------------------------------------------------------------------


def _network(cause: Exception) -> Any:
    err = error("network.connect", "Cannot connect")
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(
    ("err", "accepted", "expected"),
    [
        (error("key.invalid", "x"), False, True),
        (error("billing.required", "x"), False, True),
        (error("provider.unavailable", "x"), False, True),
        (error("provider.unavailable", "x"), True, False),  # the provider has the job
        (error("blocked.cloudflare", "x"), False, True),
        (error("rate.limited", "x"), False, False),
        (error("content.policy", "x"), False, False),
        (error("generation.failed", "x"), False, False),
        (error("model.wrong_kind", "x"), False, False),
        (_network(httpx.ConnectError("refused")), False, True),
        (_network(httpx.RemoteProtocolError("Server disconnected")), False, False),
        (error("network.dns", "x"), False, True),
    ],
)
def test_which_failures_allow_a_fallback(err: Any, accepted: bool, expected: bool) -> None:
    assert allows(err, accepted=accepted) is expected


def test_no_secret_in_a_fallback_or_its_failure(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    from tests.test_secrets import FAL_SECRET, REPLICATE_SECRET, assert_clean, assert_files_clean

    sandbox.add_key("fal", FAL_SECRET, state="locked_balance", account="broke")
    served = genctl("generate", "a fox", "-m", "flux-schnell", "--json", env=env(sandbox, fal=FAL_SECRET))
    assert json.loads(served.stdout)["fallbacks"][0]["code"] == "key.locked"
    sandbox.add_key("replicate", REPLICATE_SECRET, state="no_billing", account="none")
    both = env(
        sandbox, fal=FAL_SECRET, REPLICATE_API_TOKEN=REPLICATE_SECRET, GENCTL_HOME=str(tmp_path / "h2")
    )
    failing = genctl("generate", "a fox", "-m", "flux-schnell", "--json", env=both)
    assert failing.exit_code == 3 and "Tried first: fal.ai failed (key.locked" in failing.stdout
    for run in (served, failing):
        assert_clean(run.stdout + run.stderr)
    assert_files_clean(tmp_path)
