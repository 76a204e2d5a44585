"""Provider names in --help and in shell completion come from the registry (`--provider [fal|replicate]`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genctl.providers import registry


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
