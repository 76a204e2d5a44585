"""`--sandbox` on every command that talks to a provider: the emulator started for this one invocation."""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated

import typer

from genctl.cli.config import settings_for_cli
from genctl.cli.output import out
from genctl.providers import registry

if TYPE_CHECKING:
    from genctl.settings import Settings

SandboxOpt = Annotated[
    bool, typer.Option("--sandbox", help="Run against the built-in local emulator: no key, no cost.")
]


def key_free_environ() -> dict[str, str]:
    """os.environ without the variables that hold keys: a --sandbox run never reads the user's keys."""
    names = {
        name
        for info in registry.PROVIDERS.values()
        for name in (*info.key_env_vars, *(info.key_pair_env or ()))
    }
    return {name: value for name, value in os.environ.items() if name not in names}


def settings_for(stack: ExitStack, *, sandbox: bool) -> Settings:
    """This invocation's settings; with `sandbox`, pointed at an emulator that `stack` stops."""
    if not sandbox:
        return settings_for_cli()
    return start_sandbox(stack, settings_for_cli(env=key_free_environ()))


def start_sandbox(stack: ExitStack, settings: Settings) -> Settings:
    """Start the emulator on a free loopback port (stopped when `stack` closes) and return `settings`
    pointed at it with its demo keys: the user's own keys never leave for it."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import for_sandbox
    from genctl.sandbox import Sandbox

    box = stack.enter_context(Sandbox())
    out.info(f"Sandbox running at {box.url} (local emulator: no key used, nothing is charged).")
    return for_sandbox(settings, box.env())
