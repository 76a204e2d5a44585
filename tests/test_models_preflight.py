"""`genctl generate`'s pre-flight through the CLI: wrong models and inputs stop before anything is submitted;
--no-validate sends them and the provider's own answer comes back; suggestions on the provider's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox.catalog_replicate import SDXL_VERSION
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK
from tests.support import fal_env, replicate_env


def error_of(run, exit_code: int) -> dict:  # type: ignore[no-untyped-def]
    assert run.exit_code == exit_code, run.stderr
    doc = json.loads(run.stdout)
    assert doc["ok"] is False
    assert f"Error [{doc['error']['code']}]" in run.stderr and "Traceback" not in run.stderr
    return doc["error"]


def submitted(box: Sandbox) -> int:
    """Requests that could start a paid job: every POST (submit, uploads) reaching the sandbox."""
    return box.count(method="POST")


# -- each input problem: exit 5, field/given/allowed, nothing submitted --------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "given", "allowed", "in_message"),
    [
        (
            ["-p", "num_image=2"],
            "num_image",
            2,
            "num_images",
            "unknown parameter num_image; did you mean num_images?",
        ),
        (
            ["-p", "num_images=two"],
            "num_images",
            "two",
            "an integer from 1 to 4",
            '"two" (a string) is the wrong type',
        ),
        (["-p", "output_format=gif"], "output_format", "gif", 'one of "jpeg", "png"', '"gif" is not allowed'),
        (["-p", "num_images=9"], "num_images", 9, "an integer from 1 to 4", "9 is above the maximum"),
        (
            ["-p", "guidance_scale=0.5"],
            "guidance_scale",
            0.5,
            "a number from 1 to 20",
            "0.5 is below the minimum",
        ),
    ],
)
def test_fal_input_problems_stop_before_submit(
    genctl, sandbox: Sandbox, params: list[str], field: str, given: object, allowed: str, in_message: str
) -> None:
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", *params, "--json", env=fal_env(sandbox))
    err = error_of(run, 5)
    assert (err["code"], err["provider"], err["http_status"]) == ("payload.invalid", "fal", None)
    [problem] = err["details"]["fields"]
    assert (problem["field"], problem["given"]) == (field, given)
    assert allowed in problem["allowed"]
    assert in_message in err["message"] and field in err["message"]
    assert "Nothing was sent" in err["fix"]
    assert submitted(sandbox) == 0


def test_missing_required_input_stops_before_submit(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate", "make it blue", "-m", "fal-ai/flux/dev/image-to-image", "--json", env=fal_env(sandbox)
    )
    err = error_of(run, 5)
    [problem] = err["details"]["fields"]
    assert (problem["field"], problem["given"]) == ("image_url", None)
    assert "add -i image_url=PATH_OR_URL" in err["message"]
    assert submitted(sandbox) == 0


def test_no_prompt_for_a_model_that_needs_one(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "-m", "fal-ai/flux/schnell", "-p", "seed=1", "--json", env=fal_env(sandbox))
    err = error_of(run, 5)
    assert (
        'prompt is required (a string): give the prompt as the first argument: genctl generate "…"'
        in err["message"]
    )
    assert submitted(sandbox) == 0


def test_replicate_enum_from_a_ref_and_a_bound(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        f"stability-ai/sdxl:{SDXL_VERSION}",
        "-p",
        "scheduler=K_EULR",
        "-p",
        "num_outputs=5",
        "--json",
        env=replicate_env(sandbox),
    )
    err = error_of(run, 5)
    assert [f["field"] for f in err["details"]["fields"]] == ["scheduler", "num_outputs"]
    assert '"K_EULR" is not allowed (did you mean "K_EULER"?)' in err["message"]
    assert submitted(sandbox) == 0


def test_every_problem_at_once_in_the_text_output(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/dev",
        "-p",
        "num_images=9",
        "-p",
        "steps=3",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 5
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == (
        "Error [payload.invalid]: fal-ai/flux/dev would reject this input: "
        "num_images: 9 is above the maximum; allowed: an integer from 1 to 4; "
        "unknown parameter steps; did you mean num_inference_steps?"
    )


def test_a_config_default_is_checked_too(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[models."fal-ai/flux/dev"]\nnum_steps = 20\n')
    run = genctl(
        "--config", str(config), "generate", "a fox", "-m", "fal-ai/flux/dev", "--json", env=fal_env(sandbox)
    )
    err = error_of(run, 5)
    [problem] = err["details"]["fields"]
    assert problem["field"] == "num_steps"
    assert (
        f'unknown parameter num_steps (from [models."fal-ai/flux/dev"] in {config}); did you mean'
        in err["message"]
    )
    assert submitted(sandbox) == 0


def test_a_p_value_overrides_a_bad_config_default(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[models."fal-ai/flux/dev"]\nnum_images = 9\n')
    run = genctl(
        "--config",
        str(config),
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/dev",
        "-p",
        "num_images=2",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 0, run.stderr
    assert len(run.lines) == 2


def test_values_are_sent_in_the_schema_s_types(genctl, sandbox: Sandbox) -> None:
    # Kling's duration is the string "5" | "10"; -p duration=10 parses as the integer 10.
    args = [
        "generate",
        "a fox",
        "-m",
        "fal-ai/kling-video/v2.1/master/text-to-video",
        "-p",
        "duration=10",
        "--json",
    ]
    run = genctl(*args, env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None and job.input["duration"] == "10"
    unchecked = genctl(*args, "--no-validate", env=fal_env(sandbox))
    err = error_of(unchecked, 5)
    assert err["http_status"] == 422  # what the model says to the integer


def test_dry_run_checks_a_cached_schema_and_sends_nothing(genctl, sandbox: Sandbox) -> None:
    args = ["generate", "a fox", "-m", "fal-ai/flux/dev", "-p", "num_images=9", "--dry-run"]
    cold = genctl(*args, env=fal_env(sandbox))
    assert cold.exit_code == 0
    assert "Input not checked: no cached schema of fal-ai/flux/dev" in cold.stderr
    assert sandbox.requests == []
    assert genctl("models", "show", "fal-ai/flux/dev", env=fal_env(sandbox)).exit_code == 0
    sandbox.clear_requests()
    warm = genctl(*args, env=fal_env(sandbox))
    assert warm.exit_code == 5
    assert "num_images: 9 is above the maximum" in warm.stderr
    assert sandbox.requests == []


# -- --no-validate: the provider's own 422, rendered field by field ------------------------------------------


def test_no_validate_sends_it_and_fal_422_comes_back_field_by_field(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/dev",
        "-p",
        "num_images=9",
        "--no-validate",
        "--json",
        env=fal_env(sandbox),
    )
    err = error_of(run, 5)
    assert (err["code"], err["http_status"]) == ("payload.invalid", 422)
    assert err["details"]["fields"] == [
        {
            "field": "num_images",
            "message": "ensure this value is less than or equal to 4",
            "type": "value_error.number.not_le",
        }
    ]
    assert submitted(sandbox) == 1
    assert sandbox.count(r"/fal/api/v1/models$") == 0  # no schema fetched either
    assert sandbox.count(r"/fal/api/") == sandbox.count(r"/fal/api/v1/models/pricing$")  # only the price


def test_replicate_422_names_the_missing_field(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "-m",
        "black-forest-labs/flux-schnell",
        "--no-validate",
        "--json",
        env=replicate_env(sandbox),
    )
    err = error_of(run, 5)
    assert err["http_status"] == 422
    assert err["details"]["fields"] == [
        {"field": "prompt", "message": "prompt is required", "type": "required"}
    ]
    assert "prompt: prompt is required" in err["message"]


# -- when the schema cannot be had ---------------------------------------------------------------------------


def test_offline_with_no_cache_proceeds_with_a_notice(genctl, sandbox: Sandbox) -> None:
    with Sandbox() as gone:
        closed = gone.env()["GENCTL_FAL_API_URL"]
    env = {**fal_env(sandbox), "GENCTL_FAL_API_URL": closed}
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "-p", "num_images=2", env=env)
    assert run.exit_code == 0, run.stderr
    assert len(run.lines) == 2
    assert run.stderr.startswith(
        "Input not checked: the schema of fal-ai/flux/dev could not be fetched (network.connect"
    )
    assert submitted(sandbox) == 1


def test_quiet_hides_the_notice(genctl, sandbox: Sandbox) -> None:
    with Sandbox() as gone:
        closed = gone.env()["GENCTL_FAL_API_URL"]
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/dev",
        "--quiet",
        env={**fal_env(sandbox), "GENCTL_FAL_API_URL": closed},
    )
    assert (run.exit_code, run.stderr) == (0, "")


def test_a_second_generation_uses_the_cached_schema(genctl, sandbox: Sandbox) -> None:
    for _ in range(2):
        assert genctl("generate", "a fox", "-m", "fal-ai/flux/dev", env=fal_env(sandbox)).exit_code == 0
    assert sandbox.count(r"/fal/api/v1/models$") == 1
    assert submitted(sandbox) == 2


# -- wrong model: kind, version, id --------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-3-5-sonnet", "meta/meta-llama-3-8b-instruct"])
def test_a_text_model_is_wrong_kind_before_any_request(genctl, sandbox: Sandbox, model: str) -> None:
    run = genctl("generate", "a fox", "-m", model, "--json", env=sandbox.env())  # no key needed to say so
    err = error_of(run, 4)
    assert err["code"] == "model.wrong_kind"
    assert "genctl generates images, video and audio" in err["message"]
    assert "image: fal-ai/flux/dev" in err["fix"] and "video:" in err["fix"] and "audio:" in err["fix"]
    assert sandbox.requests == []


def test_a_language_model_found_in_the_catalogue_is_wrong_kind(sandbox: Sandbox) -> None:
    # The catalogue check, on its own (the name check would stop this id first): Replicate lists
    # meta-llama in `language-models` and its Output is a concatenated string stream.
    import os

    import httpx

    from genctl.catalog import preflight
    from genctl.config import load_settings
    from genctl.errors import GenctlError
    from genctl.generation import plan
    from genctl.plan import GenerationRequest

    settings = load_settings(env={**os.environ, **replicate_env(sandbox)})
    request = GenerationRequest(prompt="hi", model="meta/meta-llama-3-8b-instruct")
    with httpx.Client() as http, pytest.raises(GenctlError) as caught:
        preflight.check(settings, request, plan(settings, request), client=http)
    assert caught.value.code == "model.wrong_kind"
    assert caught.value.message.startswith("meta/meta-llama-3-8b-instruct is a language model on Replicate")
    assert submitted(sandbox) == 0


def test_community_model_without_version_needs_its_latest_version(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "-m", "stability-ai/sdxl", "--json", env=replicate_env(sandbox))
    err = error_of(run, 4)
    assert err["code"] == "model.needs_version"
    assert f"-m stability-ai/sdxl:{SDXL_VERSION}" in err["fix"]
    assert submitted(sandbox) == 0


def test_community_model_without_version_and_no_validate(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate", "a fox", "-m", "stability-ai/sdxl", "--no-validate", "--json", env=replicate_env(sandbox)
    )
    err = error_of(run, 4)
    assert (err["code"], err["http_status"]) == ("model.needs_version", 422)  # Replicate's own answer…
    assert f"-m stability-ai/sdxl:{SDXL_VERSION}" in err["fix"]  # …with the version from the catalogue
    assert err["details"]["latest_version"] == SDXL_VERSION


@pytest.mark.parametrize(
    ("model", "first", "elsewhere"),
    [
        ("fal-ai/flux-dev", "fal-ai/flux/dev", "black-forest-labs/flux-dev"),
        ("fal-ai/flux-schnell", "fal-ai/flux/schnell", "black-forest-labs/flux-schnell"),
        ("fal-ai/flux-1.1-pro", "fal-ai/flux-pro/v1.1", None),
    ],
)
def test_unknown_fal_id_did_you_mean(
    genctl, sandbox: Sandbox, model: str, first: str, elsewhere: str | None
) -> None:
    run = genctl("generate", "a fox", "-m", model, "--json", env=fal_env(sandbox))
    err = error_of(run, 4)
    assert (err["code"], err["http_status"]) == ("model.not_found", 404)  # fal's own answer…
    assert err["fix"].startswith(f"Did you mean {first}?")  # …ranked from the catalogue
    assert err["details"]["suggestions"][0] == {"provider": "fal", "id": first}
    if elsewhere:
        assert f"On Replicate: {elsewhere} (-m {elsewhere})." in err["fix"]
        assert {"provider": "replicate", "id": elsewhere} in err["details"]["suggestions"]
    assert "is not in fal.ai's public catalogue" in run.stderr


def test_unknown_replicate_id_suggests_the_same_model_on_fal(genctl, sandbox: Sandbox) -> None:
    env = {**replicate_env(sandbox), "FAL_KEY": FAL_KEY_OK}
    run = genctl("generate", "a fox", "-m", "black-forest-labs/flux-dev-pro", "--json", env=env)
    err = error_of(run, 4)
    assert err["code"] == "model.not_found"
    assert err["fix"].startswith("Did you mean black-forest-labs/flux-dev?")


def test_a_replicate_id_on_fal_points_to_replicate(genctl, sandbox: Sandbox) -> None:
    env = {**fal_env(sandbox), "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK}
    run = genctl(
        "generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--provider", "fal", "--json", env=env
    )
    err = error_of(run, 4)
    assert (
        "black-forest-labs/flux-schnell is on Replicate: run it there with --provider replicate."
        in err["fix"]
    )
