"""`genctl doctor` against the sandbox: the key and model cases of the hand-written reports it replaces, each
asserting the check's code, status, fix and the exit code; then the output forms and the exit-code rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genctl.diagnose import DIAGNOSIS_CODES
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from genctl.sandbox.catalog_replicate import SDXL_VERSION

CHECK_FIELDS = {"id", "category", "provider", "subject", "status", "code", "message", "fix", "details"}


def doctor_json(genctl, *args: str, env: dict[str, str]) -> tuple[Any, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Run `genctl doctor --json ARGS`; the run and its checks by id."""
    run = genctl("doctor", "--json", *args, env=env)
    assert "Traceback" not in run.stderr
    doc = json.loads(run.stdout)
    return run, {check["id"]: check for check in doc["checks"]}


def fal_only(box: Sandbox, keys: str) -> dict[str, str]:
    return {**box.env(), "FAL_KEY": keys}


def assert_check(check: dict[str, Any], status: str, code: str, *in_fix: str) -> None:
    assert (check["status"], check["code"]) == (status, code), check
    for text in in_fix:
        assert text in check["fix"], check


# -- keys --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "in_message", "in_fix"),
    [
        (sk.FAL_KEY_LOCKED_BALANCE, "Exhausted balance", "Top up at fal.ai/dashboard/billing"),
        (sk.FAL_KEY_LOCKED_ADMIN, "Admin lock", "contact support@fal.ai"),
    ],
    ids=["exhausted-balance", "admin-lock"],
)
def test_locked_fal_key(genctl, sandbox: Sandbox, key: str, in_message: str, in_fix: str) -> None:
    run, checks = doctor_json(genctl, env=fal_only(sandbox, key))
    assert run.exit_code == 1
    locked = checks["keys.fal.env:FAL_KEY"]
    assert_check(locked, "fail", "key.locked", in_fix, "new key of the same account won't help")
    assert in_message in locked["message"]
    assert locked["subject"] == f"env:FAL_KEY ({key[:4]}…{key[-4:]})"
    assert locked["details"]["http_status"] == 403


def test_fal_key_without_colon(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor_json(genctl, env=fal_only(sandbox, sk.FAL_KEY_NO_COLON))
    assert run.exit_code == 1
    check = checks["keys.fal.env:FAL_KEY"]
    assert_check(check, "fail", "key.format", "'<key_id>:<key_secret>' (both halves, one colon)")
    assert check["message"] == "env:FAL_KEY (0000…00e5) has no ':': it is one half of a fal key."
    # A key that could never work is never sent (issue 12): the finding is the key's text alone.
    assert "provider_said" not in (check["details"] or {})


def test_replicate_token_in_fal_key_says_where_it_belongs(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor_json(genctl, env=fal_only(sandbox, sk.REPLICATE_TOKEN_OK))
    assert run.exit_code == 1
    assert_check(checks["keys.fal.env:FAL_KEY"], "fail", "key.format", "Move it to REPLICATE_API_TOKEN")


def test_revoked_key_among_three(genctl, sandbox: Sandbox) -> None:
    keys = ",".join([sk.FAL_KEY_OK, sk.FAL_KEY_UNKNOWN, sk.FAL_KEY_ADMIN])
    run, checks = doctor_json(genctl, env=fal_only(sandbox, keys))
    assert run.exit_code == 1
    assert_check(checks["keys.fal.env:FAL_KEY"], "ok", "ok")
    assert_check(checks["keys.fal.env:FAL_KEY#2"], "fail", "key.invalid", "revoked", "fal.ai/dashboard/keys")
    admin = checks["keys.fal.env:FAL_KEY#3"]
    assert_check(admin, "ok", "ok")
    assert admin["message"] == "valid, account sandbox-user, balance 24.50 USD, scope ADMIN"
    # An API-scope key cannot read its balance: said, but not a problem.
    scope = checks["keys.fal.env:FAL_KEY.account"]
    assert_check(scope, "skip", "key.scope", "ADMIN key")
    assert "informational, not a failure" in scope["message"]
    # The model checks went on with a key that works.
    assert_check(checks["models.fal.fal-ai/flux/schnell"], "ok", "ok")


def test_replicate_invalid_token(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_INVALID}
    run, checks = doctor_json(genctl, env=env)
    assert run.exit_code == 1
    assert_check(
        checks["keys.replicate.env:REPLICATE_API_TOKEN"],
        "fail",
        "key.invalid",
        "replicate.com/account/api-tokens",
    )
    # The model could not be read with a refused token: not checked, and not blamed on the model.
    model = checks["models.replicate.black-forest-labs/flux-schnell"]
    assert_check(model, "skip", "key.invalid")
    assert "no Replicate key was accepted" in model["message"]


def test_replicate_billing_without_live_is_not_checked(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_NO_BILLING}
    run, checks = doctor_json(genctl, env=env)
    assert run.exit_code == 0  # a free probe cannot see a 402: the token itself is valid
    assert_check(checks["keys.replicate.env:REPLICATE_API_TOKEN"], "ok", "ok")
    billing = checks["keys.replicate.env:REPLICATE_API_TOKEN.billing"]
    assert_check(billing, "skip", "billing.required", "genctl doctor --live")
    assert "only on a paid call" in billing["message"]


def test_replicate_billing_from_the_last_paid_call(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_NO_BILLING}
    assert genctl("generate", "a fox", "-m", "black-forest-labs/flux-schnell", env=env).exit_code == 3
    run, checks = doctor_json(genctl, env=env)
    assert run.exit_code == 1
    billing = checks["keys.replicate.env:REPLICATE_API_TOKEN.billing"]
    assert_check(billing, "fail", "billing.required", "replicate.com/account/billing")
    assert "the last paid call" in billing["message"]


def test_rate_limited_key_is_a_warning_with_the_retry_time(genctl, sandbox: Sandbox) -> None:
    from genctl.sandbox import Fault

    sandbox.inject(Fault.rate_limited("replicate", retry_after=7, path="/account$"))
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}
    run, checks = doctor_json(genctl, env=env)
    assert run.exit_code == 0  # warnings allowed
    assert_check(checks["keys.replicate.env:REPLICATE_API_TOKEN"], "warn", "rate.limited", "Retry in 7 s.")
    strict, _ = doctor_json(genctl, "--strict", env=env)
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)["ok"] is False


# -- models ------------------------------------------------------------------------------------------------


def test_flux_ids_that_do_not_exist(genctl, sandbox: Sandbox) -> None:
    models = ["fal-ai/flux-dev", "fal-ai/flux-schnell", "fal-ai/flux-pro/v1.1-ultra"]
    args = [arg for model in models for arg in ("-m", model)]
    run, checks = doctor_json(genctl, *args, env=fal_only(sandbox, sk.FAL_KEY_OK))
    assert run.exit_code == 1
    dev = checks["models.fal.fal-ai/flux-dev"]
    assert_check(dev, "fail", "model.not_found", "Did you mean fal-ai/flux/dev?")
    assert dev["message"] == "fal has no application 'flux-dev' (Application 'flux-dev' not found)."
    assert {"provider": "fal", "id": "fal-ai/flux/dev"} in dev["details"]["suggestions"]
    assert_check(checks["models.fal.fal-ai/flux-schnell"], "fail", "model.not_found", "fal-ai/flux/schnell")
    ultra = checks["models.fal.fal-ai/flux-pro/v1.1-ultra"]
    assert_check(ultra, "ok", "ok")
    assert ultra["details"]["price"] == {"amount": 0.06, "unit": "image", "currency": "USD"}
    assert [c for c in checks if c.startswith("models.")] == [f"models.fal.{m}" for m in models]


def test_unlisted_endpoint_of_a_known_app_is_a_warning(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor_json(genctl, "-m", "fal-ai/flux/private-thing", env=fal_only(sandbox, sk.FAL_KEY_OK))
    assert run.exit_code == 0  # it may be the user's own endpoint: a warning
    check = checks["models.fal.fal-ai/flux/private-thing"]
    assert_check(check, "warn", "model.not_found", "If it is your own private endpoint, ignore this.")
    # No free request tells a private endpoint from a wrong path (fal-api.md §8): only a possibility.
    assert check["message"] == (
        "fal-ai/flux/private-thing is not in fal.ai's public catalogue: a wrong id, or possibly a private "
        "endpoint of yours."
    )


def test_mistyped_endpoint_path_keeps_its_did_you_mean(genctl, sandbox: Sandbox) -> None:
    _run, checks = doctor_json(genctl, "-m", "fal-ai/flux/deb", env=fal_only(sandbox, sk.FAL_KEY_OK))
    check = checks["models.fal.fal-ai/flux/deb"]
    assert check["code"] == "model.not_found"
    assert check["fix"].startswith("Did you mean fal-ai/flux/dev?"), check["fix"]
    assert check["details"]["suggestions"][0]["id"] == "fal-ai/flux/dev"


def test_text_model_is_the_wrong_kind(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor_json(genctl, "-m", "gpt-4o-mini", env=fal_only(sandbox, sk.FAL_KEY_OK))
    assert run.exit_code == 1
    assert_check(checks["models.fal.gpt-4o-mini"], "fail", "model.wrong_kind", "Use a media model")


def test_replicate_unknown_and_versionless_models(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}
    args = ["-m", "nobody/no-such-model", "-m", "stability-ai/sdxl", "--provider", "replicate"]
    run, checks = doctor_json(genctl, *args, env=env)
    assert run.exit_code == 1
    unknown = checks["models.replicate.nobody/no-such-model"]
    assert_check(unknown, "fail", "model.not_found")
    assert unknown["message"].startswith("Replicate has no model 'nobody/no-such-model' (HTTP 404)")
    sdxl = checks["models.replicate.stability-ai/sdxl"]
    assert_check(sdxl, "fail", "model.needs_version", f"-m stability-ai/sdxl:{SDXL_VERSION}")
    assert not any(c.startswith(("keys.fal", "connectivity.fal")) for c in checks)  # --provider narrows


def test_config_default_the_schema_rejects(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    config = hermetic_env / "config.toml"
    hermetic_env.mkdir(parents=True, exist_ok=True)
    config.write_text('[models."fal-ai/flux/schnell"]\nnum_images = 9\nimage_size = "square_hd"\n')
    run, checks = doctor_json(genctl, env=fal_only(sandbox, sk.FAL_KEY_OK))
    assert run.exit_code == 1
    params = checks["models.fal.fal-ai/flux/schnell.params"]
    assert_check(
        params, "fail", "payload.invalid", "`genctl models show fal-ai/flux/schnell` lists every input"
    )
    [field] = params["details"]["fields"]  # image_size is fine; the prompt the config leaves out is too
    assert (field["field"], field["given"]) == ("num_images", 9)
    assert f'[models."fal-ai/flux/schnell"] in {config}' in params["message"]
    assert_check(checks["models.fal.fal-ai/flux/schnell"], "ok", "ok")


# -- output ------------------------------------------------------------------------------------------------


def test_json_schema_is_exact(genctl, sandbox: Sandbox) -> None:
    env = {
        **fal_only(sandbox, f"{sk.FAL_KEY_OK},{sk.FAL_KEY_LOCKED_TOPUP}"),
        "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK,
    }
    run = genctl("doctor", "--json", "-m", "fal-ai/flux-dev", "-m", "black-forest-labs/flux-schnell", env=env)
    assert run.exit_code == 1
    [line] = run.stdout.splitlines()
    doc = json.loads(line)
    assert set(doc) == {"ok", "summary", "checks"}
    assert doc["ok"] is False
    assert set(doc["summary"]) == {"ok", "warn", "fail", "skip"}
    for check in doc["checks"]:
        assert set(check) == CHECK_FIELDS
        assert check["status"] in ("ok", "warn", "fail", "skip")
        assert check["code"] == "ok" or check["code"] in DIAGNOSIS_CODES
        assert (check["code"] == "ok") == (check["status"] == "ok")
        assert check["category"] in ("environment", "connectivity", "keys", "models", "aliases", "live")
        assert check["provider"] in (None, "fal", "replicate")
        assert isinstance(check["details"], dict)
    counted = {s: sum(c["status"] == s for c in doc["checks"]) for s in doc["summary"]}
    assert doc["summary"] == counted and counted["fail"] == 2
    ids = [c["id"] for c in doc["checks"]]
    assert len(ids) == len(set(ids))


def test_terminal_output_groups_checks_like_flutter_doctor(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "doctor",
        "-m",
        "fal-ai/flux-dev",
        env=fal_only(sandbox, f"{sk.FAL_KEY_OK},{sk.FAL_KEY_LOCKED_BALANCE}"),
    )
    assert run.exit_code == 1
    lines = run.stdout.splitlines()
    # A passing area is one line; an area with a problem lists each of its checks.
    assert [line for line in lines if line.startswith("[")] == [
        "[✓] Environment (4 checks passed)",
        "[○] Environment · Replicate (1 check skipped)",
        "[✓] Connectivity · fal.ai (4 checks passed)",
        "[✗] Keys · fal.ai",
        "[✗] Models · fal.ai",
        "[✓] Aliases (1 check passed)",
    ]
    locked = lines.index(next(line for line in lines if line.startswith("    ✗ [key.locked] env:FAL_KEY#2")))
    assert (
        lines[locked + 1]
        == "      Fix: Top up at fal.ai/dashboard/billing; a new key of the same account won't help."
    )
    assert "    ✓ env:FAL_KEY (0000…0001): valid, scope API" in lines
    assert lines[-1].startswith("doctor found 2 problems in 2 areas (14 checks in ")
    assert lines[-1].endswith(" s: 2 failed, 10 passed, 2 skipped; -v shows each)")
    assert " HTTP 403" not in run.stdout  # exchanges only with --verbose
    assert run.stderr == ""


def test_verbose_adds_status_message_request_id_and_timing(genctl, sandbox: Sandbox) -> None:
    env = fal_only(sandbox, sk.FAL_KEY_LOCKED_BALANCE)
    run = genctl("doctor", "--verbose", "-m", "fal-ai/flux-dev", env=env)
    assert run.exit_code == 1
    base = sandbox.url
    lock = f"      POST {base}/fal/rest/storage/upload/initiate?storage_type=fal-cdn-v3 → HTTP 403 in "
    line = next(line for line in run.stdout.splitlines() if line.startswith(lock))
    assert line.endswith(
        "ms: User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
    )
    status = next(line for line in run.stdout.splitlines() if "/requests/" in line and "/status" in line)
    assert "→ HTTP 404 in " in status and status.endswith(": Application 'flux-dev' not found")
    assert any(line.strip().startswith("took ") and line.endswith(" ms") for line in run.stdout.splitlines())


def test_no_problems_found(genctl, sandbox: Sandbox) -> None:
    env = {**fal_only(sandbox, sk.FAL_KEY_ADMIN), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}
    run = genctl("doctor", env=env)
    assert run.exit_code == 0, run.stdout
    assert run.stdout.splitlines()[-1].startswith("no problems found (")
    assert "[✗]" not in run.stdout and "[!]" not in run.stdout


def test_warning_passes_unless_strict(genctl, sandbox: Sandbox) -> None:
    odd = "my-key-id:my-key-secret"  # a fal key of an unusual shape: it works, with a warning
    run, checks = doctor_json(genctl, env=fal_only(sandbox, odd))
    assert run.exit_code == 0
    assert json.loads(run.stdout)["ok"] is True
    assert_check(checks["keys.fal.env:FAL_KEY.format"], "warn", "key.format", "copied whole")
    assert genctl("doctor", "--strict", env=fal_only(sandbox, odd)).exit_code == 1


@pytest.mark.parametrize(
    ("args", "in_error"),
    [
        (["--provider", "nope"], "Unknown provider 'nope'"),
        (["--offline", "--live"], "--offline and --live contradict each other"),
        (["--live"], "no terminal to ask on"),
        (["--timeout", "0"], ""),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    genctl, sandbox: Sandbox, args: list[str], in_error: str
) -> None:
    run = genctl("doctor", *args, env=fal_only(sandbox, sk.FAL_KEY_OK))
    assert run.exit_code == 2
    assert in_error in run.stderr
    assert sandbox.requests == []


def test_offline_sends_nothing(genctl, sandbox: Sandbox) -> None:
    env = {
        **fal_only(sandbox, f"{sk.FAL_KEY_OK},{sk.FAL_KEY_NO_COLON}"),
        "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK,
    }
    run, checks = doctor_json(genctl, "--offline", env=env)
    assert sandbox.requests == []
    assert run.exit_code == 1  # the key without a colon is wrong whatever the network says
    assert_check(checks["keys.fal.env:FAL_KEY#2"], "fail", "key.format", "both halves, one colon")
    # A check not made found nothing: no failure code, only what it would have looked for.
    assert_check(checks["keys.fal.env:FAL_KEY"], "skip", "skipped")
    assert_check(checks["connectivity.fal.api_url"], "skip", "skipped")
    assert_check(checks["models.fal.fal-ai/flux/schnell"], "skip", "skipped", "genctl models show")
    assert [
        checks[c]["details"]["unchecked"] for c in ("keys.fal.env:FAL_KEY", "connectivity.fal.api_url")
    ] == [
        "key.invalid",
        "network.connect",
    ]
    text = genctl("doctor", "--offline", env=env).stdout
    assert "    ○ env:FAL_KEY (0000…0001): validity not checked (--offline)" in text
    assert "[key.invalid]" not in text and "[network.connect]" not in text and "[model.not_found]" not in text


def test_offline_uses_a_cached_schema(genctl, sandbox: Sandbox) -> None:
    env = fal_only(sandbox, sk.FAL_KEY_OK)
    assert genctl("models", "show", "fal-ai/flux/schnell", env=env).exit_code == 0
    sandbox.clear_requests()
    run, checks = doctor_json(genctl, "--offline", "-m", "fal-ai/flux/schnell", "-m", "gpt-4o-mini", env=env)
    assert sandbox.requests == []
    assert_check(checks["models.fal.fal-ai/flux/schnell"], "ok", "ok")
    assert_check(checks["models.fal.gpt-4o-mini"], "fail", "model.wrong_kind")
    assert run.exit_code == 1


def test_broken_config_is_a_check_not_a_crash(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    hermetic_env.mkdir(parents=True, exist_ok=True)
    (hermetic_env / "config.toml").write_text("[defaults\nprovider = fal\n")
    run, checks = doctor_json(genctl, env=fal_only(sandbox, sk.FAL_KEY_OK))
    assert run.exit_code == 1
    assert_check(checks["environment.config"], "fail", "config.invalid", "Fix the TOML at line 1")
    assert_check(checks["keys.fal.env:FAL_KEY"], "ok", "ok")  # env keys are still checked
