"""`genctl models` and `genctl models show` end to end through the CLI, against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genctl.sandbox import Sandbox, fingerprint
from genctl.sandbox.catalog_replicate import SDXL_VERSION
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK
from tests.conftest import run_on_tty

BOTH_KEYS = {"FAL_KEY": FAL_KEY_OK, "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK}


def ids(stdout: str) -> list[str]:
    """The id column of a models table (piped: tab-separated rows, no header)."""
    return [line.split("\t")[0] for line in stdout.splitlines() if "\t" in line]


def listing(run) -> dict:  # type: ignore[no-untyped-def]
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["ok"] is True
    return doc


# -- listing ----------------------------------------------------------------------------------------------


def test_listing_without_any_key(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", env=sandbox.env())
    assert run.exit_code == 0, run.stderr
    shown = ids(run.stdout)
    assert run.stdout.split("\t")[0] == shown[0]  # piped: no header row, no box drawing
    assert "│" not in run.stdout
    assert "fal-ai/flux/dev" in shown and "fal-ai/minimax/video-01" in shown
    assert "FLUX.1 [dev]" in run.stdout  # brackets are text, not markup
    assert not [i for i in shown if "/" in i and not i.startswith("fal-ai/")]  # Replicate needs a token…
    assert "Replicate left out" in run.stderr and "REPLICATE_API_TOKEN" in run.stderr  # …and says so
    assert "fal.ai prices show with a key (FAL_KEY)." in run.stderr
    [fal_list] = [r for r in sandbox.requests if r.path.endswith("/fal/api/v1/models")]
    assert fal_list.key_fingerprint is None


def test_listing_with_keys_merges_both_with_prices(genctl, sandbox: Sandbox) -> None:
    doc = listing(genctl("models", "--json", "--limit", "0", env={**sandbox.env(), **BOTH_KEYS}))
    by_id = {m["id"]: m for m in doc["models"]}
    assert {"fal", "replicate"} == {m["provider"] for m in doc["models"]}
    assert by_id["fal-ai/flux/dev"]["price"] == {"amount": 0.025, "unit": "image", "currency": "USD"}
    assert by_id["fal-ai/flux/dev"]["display_name"] == "FLUX.1 [dev]"
    assert by_id["stability-ai/sdxl"]["category"] == "text-to-image"
    assert by_id["stability-ai/sdxl"]["latest_version"] == SDXL_VERSION
    assert "meta/meta-llama-3-8b-instruct" not in by_id  # not something genctl can generate with
    assert "fal-ai/stable-cascade" not in by_id  # deprecated: only active models are listed
    assert doc["count"] == doc["total"] == len(doc["models"])
    assert set(doc["models"][0]) == {
        "id", "provider", "category", "display_name", "description", "kind", "status",
        "is_official", "latest_version", "price", "url", "tags",
    }  # fmt: skip
    fal_list = [r for r in sandbox.requests if r.path.endswith("/fal/api/v1/models")]
    assert fal_list[0].key_fingerprint == fingerprint(FAL_KEY_OK)  # a key raises fal's rate limits


def test_search_both_providers(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "flux", env=sandbox.env())
    assert run.exit_code == 0, run.stderr
    shown = ids(run.stdout)
    assert shown[:2] == ["fal-ai/flux/dev", "black-forest-labs/flux-1.1-pro"]  # interleaved by rank
    assert "black-forest-labs/flux-schnell" in shown and "fal-ai/flux/schnell" in shown
    assert "fal-ai/stable-audio" not in shown
    assert sandbox.count(r"/replicate/v1/search$") == 1  # searching needs no Replicate token


def test_search_one_provider(genctl, sandbox: Sandbox) -> None:
    doc = listing(genctl("models", "video", "--provider", "replicate", "--json", env=sandbox.env()))
    assert {m["id"] for m in doc["models"]} == {
        "minimax/video-01",
        "anotherjesse/zeroscope-v2-xl",
        "google/veo-3.1",
        "google/veo-3.1-fast",
        "kwaivgi/kling-v2.1-master",
    }
    assert sandbox.count(r"/fal/") == 0


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        (
            "text-to-video",
            {
                "fal-ai/kling-video/v2.1/master/text-to-video",
                "fal-ai/minimax/video-01",
                "fal-ai/veo3.1",
                "fal-ai/veo3.1/fast",
                "minimax/video-01",
                "anotherjesse/zeroscope-v2-xl",
                "google/veo-3.1",
                "google/veo-3.1-fast",
                "kwaivgi/kling-v2.1-master",
            },
        ),
        ("text-to-audio", {"fal-ai/stable-audio", "meta/musicgen"}),
        ("text-to-speech", {"fal-ai/elevenlabs/tts/multilingual-v2"}),
    ],
)
def test_category_filter(genctl, sandbox: Sandbox, category: str, expected: set[str]) -> None:
    doc = listing(genctl("models", "--category", category, "--json", env={**sandbox.env(), **BOTH_KEYS}))
    assert {m["id"] for m in doc["models"]} == expected
    assert {m["category"] for m in doc["models"]} == {category}


def test_query_and_category_together(genctl, sandbox: Sandbox) -> None:
    doc = listing(genctl("models", "minimax", "--category", "text-to-video", "--json", env=sandbox.env()))
    assert {m["id"] for m in doc["models"]} == {"fal-ai/minimax/video-01", "minimax/video-01"}


def test_unknown_category_suggests_a_known_one(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "--category", "text-to-imag", "--json", env={**sandbox.env(), **BOTH_KEYS})
    assert run.exit_code == 2
    err = json.loads(run.stdout)["error"]
    assert err["code"] == "usage.invalid"
    assert "did you mean text-to-image?" in err["message"]
    assert "language-models" in err["fix"] and "text-to-speech" in err["fix"]  # collected at run time


def test_limit_says_how_many_were_left_out(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "--provider", "fal", "--limit", "3", env=sandbox.env())
    assert len(ids(run.stdout)) == 3
    assert "3 of 16 models shown; --limit 0 shows all." in run.stderr


def test_no_match(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "zzzz-nothing", env=sandbox.env())
    assert (run.exit_code, run.stdout) == (0, "")
    assert "No model matches." in run.stderr


def test_unknown_provider(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "--provider", "openai", env=sandbox.env())
    assert run.exit_code == 2
    assert "Unknown provider 'openai'" in run.stderr


def test_explicit_replicate_listing_without_a_token_is_key_missing(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "--provider", "replicate", "--json", env=sandbox.env())
    assert run.exit_code == 3
    err = json.loads(run.stdout)["error"]
    assert err["code"] == "key.missing" and "REPLICATE_API_TOKEN" in err["fix"]


# -- the cache, through the CLI ---------------------------------------------------------------------------


def test_second_listing_is_served_from_the_cache(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), **BOTH_KEYS}
    first = genctl("models", env=env)
    sent = len(sandbox.requests)
    second = genctl("models", env=env)
    assert second.stdout == first.stdout
    assert len(sandbox.requests) == sent  # nothing sent at all
    genctl("models", "--refresh", env=env)
    assert sandbox.count(r"/fal/api/v1/models$") == 2


def test_offline_uses_the_cached_catalogue_with_a_notice(genctl, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    with Sandbox() as box:
        env = {**box.env(), "GENCTL_CONFIG": str(config)}
        online = genctl("models", "--provider", "fal", env=env)
        assert online.exit_code == 0, online.stderr
    # The sandbox is gone: its URL now points at a closed port. An expired catalogue is used as is…
    config.write_text("[defaults]\ncatalog_ttl = 0.001\n")
    offline = genctl("models", "--provider", "fal", env=env)
    assert offline.exit_code == 0, offline.stderr
    assert offline.stdout == online.stdout
    assert "fal.ai unreachable (network.connect): using the catalogue cached 0 min ago." in offline.stderr
    # …and so is a fresh one asked to --refresh.
    config.write_text("")
    refreshed = genctl("models", "--provider", "fal", "--refresh", env=env)
    assert (refreshed.exit_code, refreshed.stdout) == (0, online.stdout)
    assert "unreachable" in refreshed.stderr


def test_a_corrupt_cache_file_is_refetched_not_a_crash(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    first = genctl("models", "--provider", "fal", env=sandbox.env())
    [path] = (hermetic_env / "cache").rglob("models-*.json")
    path.write_text('{"genctl_cache": 1, "fetch')
    again = genctl("models", "--provider", "fal", env=sandbox.env())
    assert (again.exit_code, again.stdout) == (0, first.stdout)
    assert "Discarded the unreadable cache file" in again.stderr
    assert "Traceback" not in again.stderr
    assert json.loads(path.read_text())["genctl_cache"] == 1


# -- show ---------------------------------------------------------------------------------------------------


def test_show_a_fal_model(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "show", "fal-ai/flux/dev", env={**sandbox.env(), **BOTH_KEYS})
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "fal-ai/flux/dev  (fal.ai)"
    assert "Name: FLUX.1 [dev]" in lines and "Category: text-to-image" in lines
    assert "Price: $0.025/image" in lines
    assert "Also on: Replicate black-forest-labs/flux-dev" in lines
    rows = [line.split("\t") for line in lines if "\t" in line]
    assert [r[0] for r in rows][:4] == [
        "prompt",
        "image_size",
        "num_inference_steps",
        "seed",
    ]
    steps = next(r for r in rows if r[0] == "num_inference_steps")
    assert steps[1:6] == ["integer", "", "28", "", "1–50"]
    output_format = next(r for r in rows if r[0] == "output_format")
    assert output_format[4] == "jpeg, png"
    assert lines[-2:] == [
        "Example:",
        "genctl generate 'a cat wearing a tiny wizard hat, studio lighting' -m fal-ai/flux/dev",
    ]


def test_show_a_replicate_community_model_with_enum_refs(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "show", "stability-ai/sdxl", env={**sandbox.env(), **BOTH_KEYS})
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert f"Version: {SDXL_VERSION}" in lines
    assert "Official: no: runs only at a version" in lines
    scheduler = next(line for line in lines if line.startswith("scheduler\t"))
    assert "\tK_EULER\t" in scheduler and "DDIM, DPMSolverMultistep" in scheduler  # the $ref'd enum
    assert "K_EULER_ANCESTRAL" in run.stdout
    image = next(line for line in lines if line.startswith("image\t"))
    assert "-i for a file" in image
    assert (
        lines[-1]
        == f"genctl generate 'An astronaut riding a rainbow unicorn' -m stability-ai/sdxl:{SDXL_VERSION}"
    )


def test_show_json_has_the_schema(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "models", "show", "black-forest-labs/flux-schnell", "--json", env={**sandbox.env(), **BOTH_KEYS}
    )
    doc = listing(run)
    assert set(doc) == {"ok", "model", "version", "input", "also_on", "example"}
    assert doc["model"]["is_official"] is True
    fields = {f["name"]: f for f in doc["input"]["fields"]}
    assert list(fields)[:2] == ["prompt", "aspect_ratio"]
    assert fields["aspect_ratio"]["enum"][:2] == ["1:1", "16:9"]
    assert fields["num_inference_steps"] | {} == {
        "name": "num_inference_steps",
        "type": "integer",
        "required": False,
        "default": 4,
        "enum": None,
        "minimum": 1,
        "maximum": 4,
        "description": "Number of denoising steps.",
        "format": None,
    }
    schema = doc["input"]["json_schema"]
    assert schema["properties"]["megapixels"]["enum"] == ["1", "0.25"]  # $ref inlined: self-contained
    assert "$ref" not in json.dumps(schema)
    assert doc["also_on"] == [{"provider": "fal", "id": "fal-ai/flux/schnell"}]
    assert doc["example"].endswith("-m black-forest-labs/flux-schnell")


def test_show_example_gives_every_required_input(genctl, sandbox: Sandbox) -> None:
    image = genctl("models", "show", "fal-ai/flux/dev/image-to-image", "--json", env=sandbox.env())
    assert listing(image)["example"].endswith("-m fal-ai/flux/dev/image-to-image -i image_url=./input.png")
    tts = genctl("models", "show", "fal-ai/elevenlabs/tts/multilingual-v2", "--json", env=sandbox.env())
    assert (
        listing(tts)["example"]
        == "genctl generate -m fal-ai/elevenlabs/tts/multilingual-v2 -p 'text=Hello from genctl'"
    )


def test_show_example_runs(genctl, sandbox: Sandbox) -> None:
    import shlex

    example = listing(genctl("models", "show", "fal-ai/flux/schnell", "--json", env=sandbox.env()))["example"]
    argv = shlex.split(example)
    assert argv[:2] == ["genctl", "generate"]
    run = genctl(*argv[1:], env={**sandbox.env(), "FAL_KEY": FAL_KEY_OK})
    assert run.exit_code == 0, run.stderr


def test_show_a_text_model_is_wrong_kind(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "models",
        "show",
        "meta/meta-llama-3-8b-instruct",
        "--provider",
        "replicate",
        env={**sandbox.env(), **BOTH_KEYS},
    )
    # The name alone says it is a text model: model.wrong_kind before any request.
    assert run.exit_code == 4
    assert "model.wrong_kind" in run.stderr
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("model", "first", "elsewhere"),
    [
        ("fal-ai/flux-dev", "fal-ai/flux/dev", "black-forest-labs/flux-dev"),
        ("fal-ai/flux-schnell", "fal-ai/flux/schnell", "black-forest-labs/flux-schnell"),
        ("fal-ai/flux-1.1-pro", "fal-ai/flux-pro/v1.1", None),
        ("black-forest-labs/flux-dev-x", "black-forest-labs/flux-dev", None),
    ],
)
def test_show_unknown_id_did_you_mean(
    genctl, sandbox: Sandbox, model: str, first: str, elsewhere: str | None
) -> None:
    run = genctl("models", "show", model, "--json", env={**sandbox.env(), **BOTH_KEYS})
    assert run.exit_code == 4
    err = json.loads(run.stdout)["error"]
    assert err["code"] == "model.not_found"
    assert err["fix"].startswith(f"Did you mean {first}?")
    assert err["details"]["suggestions"][0]["id"] == first
    if elsewhere:
        assert f"-m {elsewhere}" in err["fix"]


@pytest.mark.parametrize(
    "args", [["models", "--help"], ["models", "show", "--help"], ["models", "list", "--help"]]
)
def test_help(genctl, args: list[str]) -> None:
    run = genctl(*args)
    assert run.exit_code == 0
    assert "Usage: genctl models" in run.stdout


def test_progress_bars_on_a_tty(sandbox: Sandbox) -> None:
    run = run_on_tty("models", "--json", env={**sandbox.env(), **BOTH_KEYS})
    assert run.exit_code == 0
    assert "Replicate collections" in run.screen
    assert json.loads(run.stdout)["ok"] is True  # stdout stays clean
