"""Fixes that must not loop or harm: each says what to do from where the user is, in a form that works."""

from __future__ import annotations

import json
from pathlib import Path

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_LOCKED_BALANCE, FAL_KEY_OK, REPLICATE_TOKEN_OK

BOTH = {"FAL_KEY": FAL_KEY_OK, "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK}


def test_a_bad_fallback_env_value_is_fixed_in_the_env_form(genctl) -> None:
    run = genctl("generate", "x", "--dry-run", env={"GENCTL_FALLBACK": "fal,openai"})

    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        "Error [config.invalid]: GENCTL_FALLBACK must be providers separated by commas, e.g. fal,replicate, "
        "not 'openai'",
        "Fix: Set GENCTL_FALLBACK to e.g. fal,replicate.",
    ]
    # The fix, followed, parses (no loop).
    again = genctl("config", "show", "--json", env={"GENCTL_FALLBACK": "fal,replicate"})
    assert again.exit_code == 0, again.stderr


def test_a_config_path_that_is_a_folder_is_not_chmodded(genctl, tmp_path: Path) -> None:
    run = genctl("--config", str(tmp_path), "config", "show")

    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        f"Error [config.invalid]: cannot read config file {tmp_path}: it is a folder",
        f"Fix: {tmp_path} is a folder: name the file itself, e.g. --config {tmp_path / 'config.toml'}.",
    ]


def test_a_fal_key_pasted_with_its_scheme_works_and_says_so(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": f"Key {FAL_KEY_OK}"}

    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--quiet", env=env)  # warnings stay

    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines() == [
        "Warning: FAL_KEY (0000…0001): removed the 'Key' prefix from the key — providers reject it (401)",
    ]  # --quiet: no progress and no cost line (--json carries the cost)


def test_a_replicate_token_pasted_with_its_scheme_works_and_says_so(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": f"Token {REPLICATE_TOKEN_OK}"}

    run = genctl("generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--quiet", env=env)

    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines() == [
        "Warning: REPLICATE_API_TOKEN (r8_s…0001): removed the 'Token' prefix from the key — providers "
        "reject it (401)",
    ]


def test_the_wrong_provider_is_named_not_the_users_own_model(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), **BOTH}

    run = genctl(
        "generate", "x", "-m", "black-forest-labs/flux-schnell", "--provider", "fal", "--json", env=env
    )

    assert run.exit_code == 4
    fix = json.loads(run.stdout)["error"]["fix"]
    assert "(-m black-forest-labs/flux-schnell)" not in fix
    assert "black-forest-labs/flux-schnell is on Replicate: run it there with --provider replicate." in fix


def test_a_fal_id_pinned_to_replicate_points_back_to_fal(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate", "x", "-m", "fal-ai/flux/dev", "--provider", "replicate", env={**sandbox.env(), **BOTH}
    )

    assert run.exit_code == 4
    assert run.stderr.splitlines()[-1] == (
        "Fix: Replicate ids are owner/name (official models) or owner/name:<version id>. fal-ai/flux/dev is "
        "a fal.ai id: run it there with --provider fal."
    )


def test_no_download_json_has_no_size_for_a_file_never_fetched(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), **BOTH}

    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--no-download", "--json", env=env)

    assert run.exit_code == 0, run.stderr
    [output] = json.loads(run.stdout)["outputs"]
    assert output["path"] is None and output["bytes"] is None
    assert output["url"].startswith("http://")


def test_result_o_puts_a_job_saved_elsewhere_into_the_folder_asked_for(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    env = {**sandbox.env(), **BOTH}
    first = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "-o", "first", "--json", env=env)
    assert first.exit_code == 0, first.stderr
    saved = Path(json.loads(first.stdout)["outputs"][0]["path"])
    request_id = json.loads(first.stdout)["request_id"]
    before = len(sandbox.requests)

    run = genctl("result", request_id, "-o", "second")

    assert run.exit_code == 0, run.stderr
    copy = Path("second") / saved.name
    assert run.stdout.splitlines() == [str(copy)]
    assert (tmp_path / copy).read_bytes() == (tmp_path / saved).read_bytes()
    assert len(sandbox.requests) == before  # copied, not fetched again


def test_with_fallback_off_the_fix_names_the_provider_that_could_serve(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": FAL_KEY_LOCKED_BALANCE, "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK}

    run = genctl("generate", "a fox", "-m", "flux-schnell", "--json", env=env)

    assert run.exit_code == 3
    fix = json.loads(run.stdout)["error"]["fix"]
    assert fix.endswith(
        " Fallback is off, but Replicate could serve this: --provider replicate for this run, or turn "
        'fallback on with [defaults] fallback = ["fal", "replicate"] (env GENCTL_FALLBACK=fal,replicate).'
    )
    # Followed, the fix works.
    again = genctl("generate", "a fox", "-m", "flux-schnell", env={**env, "GENCTL_FALLBACK": "fal,replicate"})
    assert again.exit_code == 0, again.stderr


def test_without_a_key_elsewhere_the_fix_does_not_offer_fallback(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": FAL_KEY_LOCKED_BALANCE}

    run = genctl("generate", "a fox", "-m", "flux-schnell", "--json", env=env)

    assert run.exit_code == 3
    assert "Fallback is off" not in json.loads(run.stdout)["error"]["fix"]
