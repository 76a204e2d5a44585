"""Click's own usage errors (an unknown option, a bad value, a missing argument) as genctl errors: the same
`Error [usage.invalid]: …` / `Fix: …` lines, exit 2, and the JSON failure object with --json."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from genctl.errors import GenctlError, usage

# Click names its number types by their Python names; people read "a number".
_TYPE_WORDS = (
    ("is not a valid float range", "is not a number"),
    ("is not a valid integer range", "is not a whole number"),
    ("is not a valid float", "is not a number"),
    ("is not a valid integer", "is not a whole number"),
)


def asks_for_json(argv: Sequence[str]) -> bool:
    """Whether the command line asked for --json (before any `--`): parsing failed, so no flag was read."""
    for arg in argv:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def from_click(exc: Exception, *, root: Any, argv: Sequence[str]) -> GenctlError:
    """The genctl error for one of Click's exceptions (duck-typed: Typer keeps Click's classes private).

    Click attaches no context to an error of its option parser; the command is then read off `argv`."""
    ctx: Any = getattr(exc, "ctx", None)
    if ctx is None:
        ctx = _context(root, argv)
    path = ctx.command_path
    help_hint = f"`{path} -h`"
    name = type(exc).__name__
    if name == "NoSuchOption":
        option = str(getattr(exc, "option_name", ""))
        close = _closest(option, _options(ctx)) or sorted(getattr(exc, "possibilities", None) or ())
        guess = f"Did you mean {close[0]}? " if close else ""
        return usage(f"No such option: {option}.", fix=f"{guess}{help_hint} lists every option.")
    message = _plain(_message(exc))
    match = re.match(r"No such command '(.+?)'", message)
    if match:
        typo = match.group(1)
        close = _closest(typo, list(getattr(ctx.command, "commands", {}) if ctx is not None else ()))
        guess = f"Did you mean `{path} {close[0]}`? " if close else ""
        return usage(f"No such command '{typo}'.", fix=f"{guess}{help_hint} lists every command.")
    return usage(message, fix=f"{ctx.get_usage()}; {help_hint} explains each option.")


def _context(root: Any, argv: Sequence[str]) -> Any:
    """The context of the deepest command `argv` names (`genctl models show …` → `models show`)."""
    ctx = root.make_context("genctl", [], resilient_parsing=True)
    command = root
    for arg in argv:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            if arg.startswith("-"):
                continue
            break
        command = sub
        ctx = command.make_context(arg, [], parent=ctx, resilient_parsing=True)
    return ctx


def _message(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    return str(format_message() if callable(format_message) else exc)


def _plain(message: str) -> str:
    for click_words, words in _TYPE_WORDS:
        message = message.replace(click_words, words)
    message = re.sub(r"(\S+) is not in the range x>=(\S+?)\.?$", r"it must be at least \2, not \1", message)
    message = re.sub(r"(\S+) is not in the range x<=(\S+?)\.?$", r"it must be at most \2, not \1", message)
    message = re.sub(
        r"(\S+) is not in the range (\S+?)<=x<=(\S+?)\.?$", r"it must be from \2 to \3, not \1", message
    )
    return message if message.endswith((".", "?", "!")) else message + "."


def _options(ctx: Any) -> list[str]:
    if ctx is None:
        return []
    names: list[str] = []
    for param in getattr(ctx.command, "params", ()):
        names.extend(name for name in (*param.opts, *param.secondary_opts) if name.startswith("--"))
    return names


def _closest(word: str, choices: list[str]) -> list[str]:
    return difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
