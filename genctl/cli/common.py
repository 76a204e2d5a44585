"""What the commands share: the global options of this invocation and reusable option types."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer


@dataclass
class GlobalOptions:
    """Options given before the subcommand (`genctl --config F generate …`)."""

    config_path: Path | None = None


options = GlobalOptions()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notices on stderr.")]
