"""Settings: loaded once from flags > env > config file > defaults, and written back with tomli-w."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genctl.keys import Key


@dataclass(frozen=True)
class ProviderSettings:
    """One provider's keys, endpoint URLs and HTTP timeouts."""

    name: str  # "fal" | "replicate"
    keys: tuple[Key, ...] = ()
    urls: dict[str, str] = field(default_factory=dict)  # fal: queue_url run_url api_url rest_url; replicate: api_url
    timeout: float = 30.0  # read timeout of one HTTP call, seconds
    connect_timeout: float = 10.0


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about the user's set-up."""

    config_file: Path | None = None  # the file read, if one existed
    provider: str | None = None  # [defaults] provider
    models: dict[str, str] = field(default_factory=dict)  # kind ("image"|"video"|"audio") -> model id
    output_dir: Path = Path(".")
    timeout: float | None = None  # whole-generation deadline in seconds (None: none)
    upload_threshold: int = 1_000_000  # bytes; smaller local inputs go inline as data: URIs
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # for the CLI to show on stderr (never containing a secret)


def load_settings(*, config_path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read env and the config file into Settings. Flags are applied by the command afterwards."""
    raise NotImplementedError
