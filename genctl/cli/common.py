"""What the commands share: the global options of this invocation and reusable option types."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from genctl.providers import registry  # the ground floor: no httpx, no SDK


@dataclass
class GlobalOptions:
    """Options given before the subcommand (`genctl --config F generate …`)."""

    config_path: Path | None = None


options = GlobalOptions()

PROVIDER_CHOICES = "[" + "|".join(registry.NAMES) + "]"  # `--provider [fal|replicate]` in --help
PROVIDER_NAMES = " or ".join(registry.NAMES)


def complete_provider(incomplete: str) -> list[str]:
    """Shell completion of a provider name (`genctl --install-completion`)."""
    return [name for name in registry.NAMES if name.startswith(incomplete)]


def provider_option(help: str = "Only this provider.") -> Any:
    """`--provider [fal|replicate]`, completed from the registry (validated by the command)."""
    return typer.Option(
        "--provider",
        help=help,
        show_default=False,
        metavar=PROVIDER_CHOICES,
        autocompletion=complete_provider,
    )


ProviderOpt = Annotated[str | None, provider_option()]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notices on stderr.")]
