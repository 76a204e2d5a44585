"""Model aliases: the built-in table, `[aliases]` and `[defaults] fallback` in the config, routing, lists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genctl.aliases import BUILTIN, Route, routes
from genctl.config import load_settings
from genctl.errors import GenctlError
from genctl.fallback import for_route
from genctl.plan import GenerationRequest
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from genctl.settings import Settings

KEYS = {"FAL_KEY": sk.FAL_KEY_OK, "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}


def settings(home: Path, config: str = "", **env: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(config)
    return load_settings(config_path=path, env={**KEYS, **env})


def where(found: list[Route]) -> list[tuple[str, str, str | None]]:
    return [(r.provider, r.model, r.alias.name if r.alias else None) for r in found]


def config_file(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text)
    return path


# -- routing -------------------------------------------------------------------------------------------------


def test_an_alias_runs_on_both_providers_in_order_of_preference(hermetic_env: Path) -> None:
    both = [
        ("fal", "fal-ai/flux/schnell", "flux-schnell"),
        ("replicate", "black-forest-labs/flux-schnell", "flux-schnell"),
    ]
    assert where(routes(settings(hermetic_env), model="flux-schnell", provider=None)) == both
    assert (
        where(
            routes(settings(hermetic_env, GENCTL_PROVIDER="replicate"), model="flux-schnell", provider=None)
        )
        == both[::-1]
    )
    assert (
        where(routes(settings(hermetic_env, GENCTL_FALLBACK="replicate,fal"), model=None, provider=None))
        == both[::-1]
    )


def test_a_provider_without_a_key_goes_last(hermetic_env: Path) -> None:
    found = routes(settings(hermetic_env, FAL_KEY=""), model="flux-dev", provider=None)
    assert [r.provider for r in found] == ["replicate", "fal"]


def test_provider_pins_the_alias_to_one_side(hermetic_env: Path) -> None:
    found = routes(settings(hermetic_env), model="sdxl", provider="replicate")
    assert where(found) == [("replicate", BUILTIN["sdxl"].targets["replicate"].model, "sdxl")]
    assert found[0].renames == {"guidance": "guidance_scale"}


def test_an_alias_without_the_pinned_provider_is_model_not_found(hermetic_env: Path) -> None:
    config = '[aliases."mine"]\nfal = "fal-ai/flux/dev"\n'
    with pytest.raises(GenctlError) as caught:
        routes(settings(hermetic_env, config), model="mine", provider="replicate")
    assert caught.value.code == "model.not_found"
    assert caught.value.message == "The alias mine has no Replicate model (it runs on fal.ai)."
    assert caught.value.fix == (
        'Drop --provider replicate, or map it in the config: [aliases."mine"] replicate = "owner/model".'
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            "fal-ai/flux/dev",
            [("fal", "fal-ai/flux/dev", None), ("replicate", "black-forest-labs/flux-dev", "flux-dev")],
        ),
        (
            "black-forest-labs/flux-schnell",
            [
                ("replicate", "black-forest-labs/flux-schnell", None),
                ("fal", "fal-ai/flux/schnell", "flux-schnell"),
            ],
        ),
        (
            "stability-ai/sdxl:" + "0" * 64,
            [("replicate", "stability-ai/sdxl:" + "0" * 64, None), ("fal", "fal-ai/fast-sdxl", "sdxl")],
        ),
        ("fal-ai/aura-flow", [("fal", "fal-ai/aura-flow", None)]),
    ],
)
def test_a_model_id_runs_on_its_provider_then_where_an_alias_maps_it(
    hermetic_env: Path, model: str, expected: list[Any]
) -> None:
    assert where(routes(settings(hermetic_env), model=model, provider=None)) == expected


def test_an_id_two_aliases_map_differently_falls_back_nowhere(hermetic_env: Path) -> None:
    s = settings(hermetic_env, '[aliases."flux-schnell"]\nreplicate = "black-forest-labs/flux-dev"\n')
    assert where(routes(s, model="black-forest-labs/flux-dev", provider=None)) == [
        ("replicate", "black-forest-labs/flux-dev", None)  # flux-dev or flux-schnell on fal? not a guess
    ]


def test_a_misspelt_alias_gets_a_did_you_mean(hermetic_env: Path) -> None:
    with pytest.raises(GenctlError) as caught:
        routes(settings(hermetic_env), model="flux-schnel", provider=None)
    assert (caught.value.code, caught.value.exit_code) == ("model.not_found", 4)
    assert (
        caught.value.message
        == "flux-schnel is neither a model id (owner/name) nor an alias — did you mean flux-schnell?"
    )
    # A name like no alias is sent as it is, as before (the provider answers for it).
    assert where(routes(settings(hermetic_env), model="zzz", provider=None)) == [("fal", "zzz", None)]


def test_the_alias_parameter_map_renames_p_and_i_names() -> None:
    route = Route("replicate", "black-forest-labs/flux-kontext-pro", BUILTIN["flux-kontext-pro"])
    request = GenerationRequest(
        "make it blue", params=["seed=1", 'image_url:="https://x/a.png"'], inputs=["image_url=./a.png"]
    )
    renamed = for_route(request, route)
    assert (renamed.params, renamed.inputs) == (
        ["seed=1", 'input_image:="https://x/a.png"'],
        ["input_image=./a.png"],
    )


# -- the config ------------------------------------------------------------------------------------------


def test_config_aliases_add_and_change_the_built_in_ones_per_provider(hermetic_env: Path) -> None:
    config = """
[aliases."flux-schnell"]
replicate = { model = "black-forest-labs/flux-dev", params = { guidance_scale = "guidance" } }

[aliases."flux-dev"]
fal = ""

[aliases.mine]
fal = "fal-ai/flux/dev"
"""
    s = settings(hermetic_env, config)
    assert s.warnings == ()
    found = routes(s, model="flux-schnell", provider="replicate")[0]
    assert (found.model, found.renames, found.alias.source if found.alias else None) == (
        "black-forest-labs/flux-dev",
        {"guidance_scale": "guidance"},
        "built-in, config",
    )
    assert where(routes(s, model="flux-schnell", provider="fal")) == [
        ("fal", "fal-ai/flux/schnell", "flux-schnell")
    ]
    assert [r.provider for r in routes(s, model="flux-dev", provider=None)] == ["replicate"]  # fal removed
    assert where(routes(s, model="mine", provider=None)) == [("fal", "fal-ai/flux/dev", "mine")]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '[aliases."fal-ai/x"]\nfal = "fal-ai/x"\n',
            'alias name "fal-ai/x" in {path} has a "/" or ":", so it would read as a model id',
        ),
        (
            "[aliases.x]\nfal = 3\n",
            '[aliases."x"] in {path}, fal must be a model id or a table with model = "…"',
        ),
        (
            '[aliases.x]\nreplicate = { model = "a/b", params = { a = 1 } }\n',
            '[aliases."x"] in {path}, replicate: params must map input names to names, '
            'e.g. { guidance_scale = "guidance" }',
        ),
        (
            '[defaults]\nfallback = ["fal", "replicat"]\n',
            '[defaults] fallback in {path} must be a list of providers, e.g. ["fal", "replicate"], '
            "not 'replicat' — did you mean replicate?",
        ),
        (
            '[defaults]\nfallback = ["fal", "fal"]\n',
            '[defaults] fallback in {path} must be a list of providers, e.g. ["fal", "replicate"], '
            "not a list naming a provider twice",
        ),
    ],
)
def test_a_wrong_alias_or_fallback_setting_is_config_invalid(
    hermetic_env: Path, config: str, message: str
) -> None:
    path = config_file(hermetic_env, config)
    with pytest.raises(GenctlError) as caught:
        load_settings(config_path=path, env={})
    assert caught.value.code == "config.invalid"
    assert caught.value.message == message.replace("{path}", str(path))


def test_an_unknown_provider_in_an_alias_is_a_warning(hermetic_env: Path) -> None:
    s = settings(hermetic_env, '[aliases.x]\nfal = "fal-ai/flux/dev"\nreplicte = "a/b"\n')
    assert s.warnings == (
        f'unknown provider replicte in [aliases."x"] in {hermetic_env / "config.toml"}'
        " — did you mean replicate?",
    )


def test_fallback_comes_from_the_file_or_the_environment(hermetic_env: Path) -> None:
    assert settings(hermetic_env).fallback is None
    assert settings(hermetic_env, '[defaults]\nfallback = ["replicate", "fal"]\n').fallback == (
        "replicate",
        "fal",
    )
    s = settings(hermetic_env, '[defaults]\nfallback = ["replicate"]\n', GENCTL_FALLBACK="fal, replicate")
    assert (s.fallback, s.origins["defaults.fallback"]) == (("fal", "replicate"), "env")


def test_config_show_lists_fallback_and_aliases(genctl, hermetic_env: Path) -> None:
    config_file(
        hermetic_env,
        '[defaults]\nfallback = ["fal", "replicate"]\n'
        '[aliases.mine]\nfal = "fal-ai/flux/dev"\nreplicate = ""\n',
    )
    doc = json.loads(genctl("config", "show", "--json").stdout)
    assert doc["defaults"]["fallback"] == {"value": ["fal", "replicate"], "origin": "file"}
    assert doc["aliases"] == {"mine": {"fal": {"model": "fal-ai/flux/dev", "params": {}}, "replicate": None}}
    text = genctl("config", "show").stdout
    assert '["fal", "replicate"]' in text and 'aliases."mine".replicate' in text and '"" (removed)' in text


# -- end to end --------------------------------------------------------------------------------------------


def test_models_aliases_lists_both_ids_without_the_network(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    config_file(
        hermetic_env,
        '[aliases."flux-dev"]\nreplicate = "black-forest-labs/flux-dev"\n'
        '[aliases.mine]\nfal = "fal-ai/aura-flow"\n',
    )
    run = genctl("models", "--aliases", env=sandbox.env())
    assert run.exit_code == 0, run.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in run.stdout.splitlines()}
    assert rows["flux-schnell"][:2] == ["flux-schnell", "fal-ai/flux/schnell"]
    assert "black-forest-labs/flux-schnell" in rows["flux-schnell"]
    assert "image_url → input_image" in run.stdout
    doc = json.loads(genctl("models", "--aliases", "--json", env=sandbox.env()).stdout)
    found = {a["name"]: a for a in doc["aliases"]}
    assert doc["count"] == len(BUILTIN) + 1
    assert found["flux-schnell"] == {
        "name": "flux-schnell",
        "fal": "fal-ai/flux/schnell",
        "replicate": "black-forest-labs/flux-schnell",
        "params": {},
        "source": "built-in",
    }
    assert found["flux-dev"]["source"] == "built-in, config"
    assert found["mine"] == {
        "name": "mine",
        "fal": "fal-ai/aura-flow",
        "replicate": None,
        "params": {},
        "source": "config",
    }
    only = json.loads(genctl("models", "--aliases", "veo", "--json", env=sandbox.env()).stdout)
    assert [a["name"] for a in only["aliases"]] == ["veo-3.1", "veo-3.1-fast"]
    on = json.loads(
        genctl("models", "--aliases", "--provider", "replicate", "--json", env=sandbox.env()).stdout
    )
    assert "mine" not in [a["name"] for a in on["aliases"]] and on["count"] == len(BUILTIN)
    assert sandbox.requests == []


def test_a_config_alias_overrides_the_built_in_one_in_a_generation(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    config_file(hermetic_env, '[aliases."flux-schnell"]\nreplicate = "black-forest-labs/flux-dev"\n')
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "flux-schnell",
        "--provider",
        "replicate",
        "-p",
        "guidance_scale=4",
        "--json",
        env={**sandbox.env(), **KEYS},
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert (doc["model"], doc["alias"], doc["fallbacks"]) == (
        "black-forest-labs/flux-dev",
        "flux-schnell",
        [],
    )
    job = sandbox.job(doc["request_id"])
    assert job is not None and job.input == {"prompt": "a fox", "guidance": 4}


def test_an_alias_on_fal_takes_replicate_s_names(genctl, sandbox: Sandbox) -> None:
    args = (
        "-m",
        "flux-dev",
        "-p",
        "aspect_ratio=16:9",
        "-p",
        "num_outputs=2",
        "-p",
        "guidance=4",
        "-p",
        "output_format=jpg",
    )
    run = genctl("generate", "a fox", *args, "--json", env={**sandbox.env(), **KEYS})
    doc = json.loads(run.stdout)
    assert doc["provider"] == "fal", run.stderr
    job = sandbox.job(doc["request_id"])
    assert job is not None and job.input == {
        "prompt": "a fox",
        "num_images": 2,
        "guidance_scale": 4,
        "output_format": "jpeg",
        "image_size": "landscape_16_9",
    }


def test_alias_defaults_from_the_config_are_translated(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    config_file(hermetic_env, '[models."flux-schnell"]\nnum_images = 2\n')
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "flux-schnell",
        "--provider",
        "replicate",
        "--json",
        env={**sandbox.env(), **KEYS},
    )
    doc = json.loads(run.stdout)
    job = sandbox.job(doc["request_id"])
    assert job is not None and job.input == {"prompt": "a fox", "num_outputs": 2}, run.stderr


def test_without_a_model_or_a_fal_key_the_default_alias_runs_on_replicate(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate", "a fox", "--json", env={**sandbox.env(), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert (doc["provider"], doc["model"], doc["alias"], doc["fallbacks"]) == (
        "replicate",
        "black-forest-labs/flux-schnell",
        "flux-schnell",
        [],
    )
    assert "Warning" not in run.stderr


def test_a_dry_run_shows_the_translated_request_and_sends_nothing(genctl, sandbox: Sandbox) -> None:
    args = (
        "-m",
        "flux-schnell",
        "--provider",
        "replicate",
        "-p",
        "image_size=square_hd",
        "-p",
        "num_images=2",
        "--dry-run",
    )
    run = genctl("generate", "a fox", *args, env={**sandbox.env(), **KEYS})
    assert run.exit_code == 0, run.stderr
    assert "/models/black-forest-labs/flux-schnell/predictions" in run.stdout
    body = json.loads(run.stdout.split("--data-raw ", 1)[1].strip().strip("'"))
    assert body == {"input": {"prompt": "a fox", "num_outputs": 2, "aspect_ratio": "1:1"}}
    assert sandbox.requests == []
