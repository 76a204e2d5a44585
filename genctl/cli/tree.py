"""genctl's command tree, built as it is used.

Typer turns every command's signature into Click parameters, and so imports every command module, before
it reads argv: ~40 ms of `genctl --help`. Here the root group knows each command by an entry below (its
name, where it lives, its line in `genctl --help`), and a command is built only when it is looked up:
`genctl generate …` builds `generate` alone, `genctl --help` builds none (#13). Each built command is
the one Typer would have built in the eager tree; tests/test_cli_tree.py compares the two, help by help.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# Typer settings shared by the root app and each command built on its own: they decide how help is drawn.
SETTINGS: dict[str, Any] = {"rich_markup_mode": None, "pretty_exceptions_enable": False}

RESULT_HELP = """Fetch a recorded job's status and outputs again (a killed run, --no-wait), and save the
outputs that are missing.

Examples:

    genctl result 7f0a9731

    genctl result 7f0a9731 --wait -o out/

    genctl result 7f0a9731 --json
"""


class Entry:
    """One command of the root: `target` is `module:attribute`, a function (a command, registered with
    `options` as `app.command` takes them) or a Typer app (a group, with `options` for `add_typer`).
    `summary` is a group's help up to its first blank line: `genctl --help` shortens it to fit, as
    Click shortens the built group's help (a command's line is its short_help)."""

    __slots__ = ("name", "options", "summary", "target")

    def __init__(self, name: str, target: str, summary: str = "", **options: Any) -> None:
        self.name, self.target, self.summary, self.options = name, target, summary, options

    def register(self, app: typer.Typer) -> None:
        """Register the command on `app`, as the eager tree did (this imports its module)."""
        module, _, attribute = self.target.partition(":")
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=self.name, **self.options)
        else:
            app.command(self.name, **self.options)(target)

    def stand_in(self) -> Any:
        """A command that only knows its line in the root's listing."""
        if self.summary:
            return TyperCommand(self.name, help=self.summary)
        return TyperCommand(self.name, short_help=self.options["short_help"])


# Each command's --help is its docstring (with its Examples); short_help is its line in `genctl --help`.
ENTRIES = (
    Entry(
        "generate",
        "genctl.cli.generate:generate",
        short_help="Generate an image, video or audio file from a prompt.",
        no_args_is_help=True,
    ),
    Entry(
        "history",
        "genctl.cli.history:history_command",
        short_help="List recorded jobs, newest first; --clear deletes them.",
    ),
    Entry(
        "result",
        "genctl.cli.history:result_command",
        help=RESULT_HELP,
        short_help="Fetch a recorded job's outputs again.",
    ),
    Entry(
        "usage",
        "genctl.cli.spend:usage_command",
        short_help="What jobs cost: genctl's record next to the provider's billing view.",
    ),
    Entry(
        "doctor",
        "genctl.cli.doctor:doctor",
        short_help="Diagnose keys, models and connectivity; say what is wrong and the fix.",
    ),
    Entry(
        "config",
        "genctl.cli.config:config_app",
        "Show which config file genctl reads and the settings in effect; write an example one.",
    ),
    Entry(
        "keys",
        "genctl.cli.keys:keys_app",
        "See each key's state (rotation, failures, live check) and add, remove or list keys.",
    ),
    Entry(
        "models",
        "genctl.cli.models:models_app",
        "Find models on fal.ai and Replicate and read their inputs. `genctl models [QUERY]` is short for "
        "`genctl models list [QUERY]`.",
    ),
    Entry(
        "sandbox",
        "genctl.cli.sandbox:sandbox_app",
        "Run the local emulator of the fal.ai and Replicate APIs.",
    ),
    Entry("help", "genctl.cli.topics:help_app", "Reference topics: `genctl help exit-codes`."),
)


def register_all(app: typer.Typer) -> None:
    """Register every command on `app`: the eager tree, which the tests compare the lazy one with."""
    for entry in ENTRIES:
        entry.register(app)


def build(entry: Entry) -> Any:
    """The Click command of `entry`, as Typer builds it inside the root (same settings, same parent)."""
    holder = typer.Typer(add_completion=False, **SETTINGS)
    entry.register(holder)
    return typer.main.get_group(holder).commands[entry.name]


class Commands(MutableMapping[str, Any]):
    """The root's `commands`: every name known at once, each command built on first access."""

    def __init__(self, entries: tuple[Entry, ...]) -> None:
        self._entries = {entry.name: entry for entry in entries}
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = build(self._entries[name])  # KeyError for a name genctl does not have
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._entries.pop(name, None)
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._entries
        yield from (name for name in self._built if name not in self._entries)

    def __len__(self) -> int:
        return len(self._entries.keys() | self._built.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._built

    def built(self) -> list[str]:
        """The names of the commands built so far."""
        return list(self._built)

    def listed(self, name: str) -> Any:
        """The command for the root's listing: the built one, else a stand-in that knows its line."""
        return self._built.get(name) or self._entries[name].stand_in()


class LazyGroup(TyperGroup):
    """A root group whose commands are built when looked up; its listing builds none of them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: Commands = Commands(ENTRIES)
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self._listing:
            return self.commands.listed(cmd_name) if cmd_name in self.commands else None
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Click's own listing, drawn from stand-ins: its layout is kept, and nothing is imported or built
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False
