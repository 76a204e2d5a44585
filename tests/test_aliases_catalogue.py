"""The built-in aliases name models that exist: each side is in the sandbox's catalogue (which emulates the
real ones), `-m ALIAS` runs on each provider, and `genctl doctor` warns when an alias names a model its
provider's catalogue lacks — and only then."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genctl.aliases import BUILTIN
from genctl.providers import registry
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from genctl.sandbox.catalog import fal_model, replicate_model, replicate_version
from genctl.sandbox.faults import Fault

FAL, REPLICATE = registry.FAL.name, registry.REPLICATE.name
BOTH = {"FAL_KEY": sk.FAL_KEY_OK, "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}
SIDES = [(a.name, p, t.model) for a in BUILTIN.values() for p, t in a.targets.items()]


def in_catalogue(provider: str, model: str) -> bool:
    if provider == FAL:
        return fal_model(model) is not None
    ref, _, version = model.partition(":")
    owner, name = ref.split("/")
    found = replicate_model(owner, name)
    if version:  # a community model pinned at a version: that version must exist too
        return found is not None and replicate_version(version) is not None
    return found is not None


@pytest.mark.parametrize(("alias", "provider", "model"), SIDES, ids=[f"{a}-{p}" for a, p, _ in SIDES])
def test_every_builtin_side_is_in_the_sandbox_catalogue(alias: str, provider: str, model: str) -> None:
    assert in_catalogue(provider, model), f"{alias} names {model} on {provider}, which the sandbox lacks"


def test_every_builtin_alias_runs_on_both_providers() -> None:
    assert {a.name: sorted(a.targets) for a in BUILTIN.values()} == {
        name: sorted([FAL, REPLICATE]) for name in BUILTIN
    }


@pytest.mark.parametrize(
    ("alias", "provider", "model", "content_type"),
    [
        ("nano-banana", FAL, "fal-ai/nano-banana", "image/png"),
        ("nano-banana", REPLICATE, "google/nano-banana", "image/png"),
        ("recraft-v3", REPLICATE, "recraft-ai/recraft-v3", "image/png"),
        ("veo-3.1", FAL, "fal-ai/veo3.1", "video/mp4"),
        ("veo-3.1", REPLICATE, "google/veo-3.1", "video/mp4"),
        ("kling-2.1-master", REPLICATE, "kwaivgi/kling-v2.1-master", "video/mp4"),
    ],
)
def test_generate_with_an_alias_runs_on_that_provider(
    genctl, sandbox: Sandbox, alias: str, provider: str, model: str, content_type: str
) -> None:
    run = genctl(
        "generate", "a fox", "-m", alias, "--provider", provider, "--no-download", "--json", env=both(sandbox)
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert (doc["ok"], doc["provider"], doc["model"], doc["alias"]) == (True, provider, model, alias)
    [output] = doc["outputs"]
    assert output["content_type"] == content_type and output["url"].startswith(sandbox.url)


def test_veo_takes_its_durations_as_published(genctl, sandbox: Sandbox) -> None:
    """fal's Veo 3.1 durations are strings ("6s"), Replicate's integers (6)."""
    sent = {}
    for provider, duration in ((FAL, "6s"), (REPLICATE, "6")):
        run = genctl(
            "generate",
            "a fox",
            "-m",
            "veo-3.1",
            "--provider",
            provider,
            "-p",
            f"duration={duration}",
            "--no-download",
            "--json",
            env=both(sandbox),
        )
        assert run.exit_code == 0, run.stderr
        sent[provider] = sandbox.job(json.loads(run.stdout)["request_id"]).input["duration"]
    assert sent == {FAL: "6s", REPLICATE: 6}


def test_the_kontext_image_goes_by_each_providers_name(genctl, sandbox: Sandbox) -> None:
    image = "https://example.com/in.png"
    sent = {}
    for provider in (FAL, REPLICATE):
        run = genctl(
            "generate",
            "make it night",
            "-m",
            "flux-kontext-pro",
            "--provider",
            provider,
            "-p",
            f"image_url={image}",
            "--no-download",
            "--json",
            env=both(sandbox),
        )
        assert run.exit_code == 0, run.stderr
        sent[provider] = sandbox.job(json.loads(run.stdout)["request_id"]).input
    assert sent[FAL] == {"prompt": "make it night", "image_url": image}
    assert sent[REPLICATE] == {"prompt": "make it night", "input_image": image}


# --- doctor ---------------------------------------------------------------------------------------------


def both(box: Sandbox) -> dict[str, str]:
    return {**box.env(), **BOTH}


def doctor(genctl, box: Sandbox, *args: str) -> tuple[Any, dict[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    run = genctl("doctor", "--json", *args, env=both(box))
    assert "Traceback" not in run.stderr
    return run, {c["id"]: c for c in json.loads(run.stdout)["checks"]}


def config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def test_doctor_finds_every_builtin_alias_model(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor(genctl, sandbox)
    assert run.exit_code == 0, run.stdout
    assert checks["aliases"]["message"] == f"all {len(BUILTIN)} aliases can run on fal.ai and Replicate"
    assert "aliases.models" not in checks
    asked = {(r.path, r.query) for r in sandbox.requests}
    assert ("/replicate/v1/models/google/veo-3.1", "") in asked  # each side was looked up


def test_a_config_alias_to_a_missing_model_is_named(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    config(
        hermetic_env, '[aliases.mine]\nfal = "fal-ai/flux-nope"\nreplicate = "black-forest-labs/flux-dev"\n'
    )
    run, checks = doctor(genctl, sandbox)
    warning = checks["aliases.models"]
    assert (warning["category"], warning["status"], warning["code"]) == ("aliases", "warn", "model.not_found")
    assert (
        warning["message"]
        == "1 alias model is not in its provider's catalogue: mine: fal.ai has no fal-ai/flux-nope"
    )
    assert warning["fix"] == (
        'Map it to a model that exists in the config: [aliases."mine"] fal = "owner/model" '
        "(`genctl models QUERY` finds one), or use the other provider."
    )
    assert warning["details"]["missing"] == [{"alias": "mine", "provider": FAL, "model": "fal-ai/flux-nope"}]
    mine = checks["aliases"]["details"]["aliases"]["mine"]
    assert mine[FAL] == {"model": "fal-ai/flux-nope", "can_serve": False, "code": "model.not_found"}
    assert mine[REPLICATE]["can_serve"] is True
    assert checks["aliases"]["message"].endswith("; on Replicate: mine")
    assert run.exit_code == 0  # a warning: the alias still runs on Replicate


def test_both_sides_missing_are_both_named(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    config(hermetic_env, '[aliases.ghost]\nfal = "fal-ai/ghost"\nreplicate = "acme/ghost"\n')
    _, checks = doctor(genctl, sandbox)
    assert checks["aliases.models"]["message"] == (
        "2 alias models are not in their providers' catalogues: ghost: fal.ai has no fal-ai/ghost; "
        "ghost: Replicate has no acme/ghost"
    )
    assert checks["aliases"]["message"].endswith("; on no provider now: ghost")


def test_offline_with_nothing_cached_proves_nothing(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    config(hermetic_env, '[aliases.mine]\nfal = "fal-ai/flux-nope"\n')
    run, checks = doctor(genctl, sandbox, "--offline")
    assert "aliases.models" not in checks  # no false warning: nothing was asked
    assert checks["aliases"]["status"] == "skip"
    assert [c["status"] for c in checks.values() if c["details"].get("unchecked") == "model.not_found"] == [
        "skip",
        "skip",
    ]
    assert run.exit_code == 0
    assert sandbox.requests == []


@pytest.mark.parametrize("action", ["respond", "reset"])
def test_a_look_up_that_fails_proves_nothing(
    genctl, sandbox: Sandbox, hermetic_env: Path, action: str
) -> None:
    config(hermetic_env, '[aliases.ghost]\nreplicate = "acme/ghost"\n')
    sandbox.inject(Fault(action, provider="replicate", path=r"/v1/models/acme/ghost$", status=500))
    _, checks = doctor(genctl, sandbox)
    assert "aliases.models" not in checks  # the catalogue could not say, so no warning
    assert checks["aliases"]["details"]["aliases"]["ghost"][REPLICATE]["can_serve"] is True
    assert sandbox.count(r"/replicate/v1/models/acme/ghost$") >= 1  # it was asked
