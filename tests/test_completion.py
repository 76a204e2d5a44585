"""Shell completion: provider names from the registry (`--provider [fal|replicate]`), model ids from the
cached catalogue, key labels from the config (#14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genctl.cli import app
from genctl.providers import registry
from genctl.sandbox import Sandbox
from tests.support import FAL_SECRET, fal_env, replicate_env


def complete(*words: str) -> list[str]:
    """What bash completion offers for the last of `words` (Click's completion protocol, a real process)."""
    env = {
        **os.environ,
        "_GENCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": " ".join(["genctl", *words]),
        "COMP_CWORD": str(len(words)),
    }
    code = "import sys; from genctl.cli import app; sys.exit(app(prog_name='genctl'))"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


@pytest.mark.parametrize(
    "words",
    [
        ("doctor", "--provider", ""),
        ("generate", "--provider", ""),
        ("models", "--provider", ""),
        ("keys", "status", "--provider", ""),
        ("keys", "add", ""),
        ("keys", "remove", ""),
    ],
)
def test_provider_values_complete_from_the_registry(words: tuple[str, ...]) -> None:
    assert complete(*words) == list(registry.NAMES)


def test_a_prefix_completes_to_the_one_provider() -> None:
    assert complete("doctor", "--provider", "rep") == ["replicate"]


def test_help_shows_the_choices(genctl) -> None:
    choices = "[" + "|".join(registry.NAMES) + "]"
    assert f"--provider {choices}" in genctl("generate", "--help").stdout
    assert f"Usage: genctl keys add [OPTIONS] {choices}" in genctl("keys", "add", "--help").stdout


# -- model ids (from the cached catalogue only) and key labels (from the config, never a key) ---------------


def complete_here(*words: str) -> list[str]:
    """The same protocol in-process (CliRunner): fast, and the test's sandbox sees any request it sends."""
    env = {
        "_GENCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": " ".join(["genctl", *words]),
        "COMP_CWORD": str(len(words)),
    }
    run = CliRunner().invoke(app, [], env=env, prog_name="genctl", catch_exceptions=False)
    assert run.exit_code == 0 and run.stderr == "", run.stderr
    return run.stdout.split()


@pytest.fixture
def box_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """genctl pointed at the sandbox over its URLs (not --sandbox), with both demo keys."""
    for name, value in {**fal_env(sandbox), **replicate_env(sandbox)}.items():
        monkeypatch.setenv(name, value)
    return sandbox


def test_nothing_cached_offers_nothing_and_sends_nothing(box_env: Sandbox) -> None:
    assert complete_here("generate", "-m", "") == []
    assert complete_here("models", "show", "fal") == []
    assert box_env.requests == []


def test_model_ids_come_from_the_cached_catalogue(genctl, box_env: Sandbox) -> None:
    assert genctl("models", "flux").exit_code == 0  # caches both providers' search for "flux"
    seen = len(box_env.requests)
    assert complete_here("generate", "-m", "fal-ai/flux/") == [
        "fal-ai/flux/dev",
        "fal-ai/flux/dev/image-to-image",
        "fal-ai/flux/schnell",
    ]
    assert complete_here("models", "show", "black-forest-labs/flux-1") == [
        "black-forest-labs/flux-1.1-pro",
        "black-forest-labs/flux-1.1-pro-ultra",
    ]
    # --provider narrows the ids to that provider's.
    replicate_only = complete_here("doctor", "--provider", "replicate", "-m", "")
    assert replicate_only and all(i.startswith("black-forest-labs/") for i in replicate_only)
    assert len(box_env.requests) == seen  # completing sent nothing


def test_key_labels_come_from_the_config_file(genctl, box_env: Sandbox, hermetic_env: Path) -> None:
    for n in (1, 2):
        added = genctl(
            "keys", "add", "fal", "--label", f"ci-{n}", input=FAL_SECRET.replace("7777", f"000{n}")
        )
        assert added.exit_code == 0, added.stderr
    assert complete_here("keys", "remove", "fal", "") == ["ci-1", "ci-2"]  # not env:FAL_KEY: not removable
    assert complete_here("keys", "remove", "fal", "ci-2") == ["ci-2"]
    assert complete_here("keys", "remove", "replicate", "") == []


def test_a_broken_config_completes_nothing_quietly(hermetic_env: Path) -> None:
    hermetic_env.mkdir(parents=True)
    (hermetic_env / "config.toml").write_text("[defaults\n")
    assert complete_here("keys", "remove", "fal", "") == []
    assert complete_here("generate", "-m", "") == []
