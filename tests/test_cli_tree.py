"""The command tree is built as it is used (#13): `genctl --help` builds and imports no command, and
`genctl generate --help` builds `generate` alone. What a user sees is the eager tree's, help by help."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from genctl.cli import app, tree


def _eager() -> typer.Typer:
    """genctl's app as Typer builds it when every command is registered up front."""
    eager = typer.Typer(
        name="genctl",
        help=app.info.help,
        no_args_is_help=True,
        context_settings=app.info.context_settings,
        **tree.SETTINGS,
    )
    assert app.registered_callback is not None
    eager.callback()(app.registered_callback.callback)  # type: ignore[arg-type]
    tree.register_all(eager)
    return eager


EAGER = _eager()


def _paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _paths(sub, (*path, name))


PATHS = list(_paths(typer.main.get_command(EAGER)))


def _help(target: typer.Typer, path: tuple[str, ...], columns: int) -> str:
    run = CliRunner(env={"COLUMNS": str(columns)}).invoke(target, [*path, "--help"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    return run.output


def test_the_walk_reaches_every_command() -> None:
    assert len(PATHS) == 22 and ("keys", "status") in PATHS and ("models", "show") in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "genctl")
def test_each_help_is_the_eager_trees_at_80_columns(path: tuple[str, ...]) -> None:
    assert _help(app, path, 80) == _help(EAGER, path, 80)


@pytest.mark.parametrize("columns", [50, 64, 200])
def test_the_root_listing_shortens_each_line_as_click_would_at_any_width(columns: int) -> None:
    lazy = _help(app, (), columns)
    assert lazy == _help(EAGER, (), columns)
    assert "  keys      See each key's state" in lazy


def test_each_entry_knows_its_line_in_the_listing() -> None:
    """A group's summary is its help up to the first blank line; a command's line is its short_help."""
    built = typer.main.get_command(EAGER).commands  # type: ignore[attr-defined]
    for entry in tree.ENTRIES:
        command = built[entry.name]
        if entry.summary:
            assert entry.summary.split() == command.help.split("\n\n")[0].split(), entry.name
        else:
            assert entry.options["short_help"] == command.short_help, entry.name


def _run(argv: list[str]) -> list[str]:
    """Run genctl's root group on `argv` in this process; the names of the commands it built."""
    group: Any = typer.main.get_command(app)
    group.main(argv, prog_name="genctl", standalone_mode=False)
    return group.commands.built()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("argv", "built"),
    [
        (["--help"], []),
        (["--version"], []),
        (["generate", "--help"], ["generate"]),
        (["keys", "status", "--help"], ["keys"]),
        (["models", "--help"], ["models"]),
        (["modles"], []),
    ],
)
def test_a_command_is_built_only_when_argv_names_it(
    argv: list[str], built: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(argv) == built
    captured = capsys.readouterr()
    if argv == ["modles"]:  # a typo's suggestion reads the names, and builds nothing
        assert captured.err == (
            "Error [usage.invalid]: No such command 'modles'.\n"
            "Fix: Did you mean `genctl models`? `genctl -h` lists every command.\n"
        )
    else:
        assert captured.out.startswith(("Usage: genctl", "genctl ")), captured.out


def test_the_root_help_imports_no_command_module() -> None:
    code = (
        "import sys\nfrom genctl.cli import main\nsys.argv = ['genctl', '--help']\n"
        "import atexit\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules if m.startswith('genctl.'))))\n"
        "main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.splitlines()[-1]
        == "['genctl.cli', 'genctl.cli.output', 'genctl.cli.tree', 'genctl.errors']"
    )
