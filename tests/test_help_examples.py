"""Every command's --help ends its description with Examples (as hf's CLI does), and each example is a
command line genctl parses: the command exists and its options and arguments are valid (#14)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from genctl.cli import app

ROOT: Any = typer.main.get_command(app)  # Typer's vendored Click group


def _paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _paths(sub, (*path, name))


PATHS = list(_paths(ROOT))


def examples(help_text: str) -> list[str]:
    """The lines of the help's Examples section: from `Examples:` to the next unindented line."""
    lines = help_text.splitlines()
    assert "  Examples:" in lines, help_text
    section = []
    for line in lines[lines.index("  Examples:") + 1 :]:
        if line and not line.startswith(" "):
            break
        if line.strip():
            section.append(line)
    return section


def _parse(words: list[str]) -> Any:
    """Parse `genctl WORDS` as Click would run it, without running it: the leaf command's context."""
    command, args = ROOT, words
    ctx = command.make_context("genctl", args, resilient_parsing=False)
    while hasattr(command, "commands"):
        name, command, args = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        ctx = command.make_context(name, args, parent=ctx)
    return ctx


def test_every_command_is_walked() -> None:
    assert ("keys", "status") in PATHS and ("models", "show") in PATHS and () in PATHS
    assert len(PATHS) == 22


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "genctl")
def test_help_has_examples_that_genctl_parses(path: tuple[str, ...]) -> None:
    run = CliRunner().invoke(app, [*path, "--help"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    found = examples(run.stdout)
    assert found
    for line in found:
        # One example per line, whole (Click rewraps a long one: keep each within the 80-column help).
        assert line.startswith("      genctl "), line
        words = shlex.split(line.strip().split(" | ", 1)[0].split(" < ", 1)[0])[1:]
        # The example runs this command (a group's: one of its subcommands).
        assert _parse(words).command_path.split()[1 : len(path) + 1] == list(path), line
