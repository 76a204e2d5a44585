"""The settings value types: what a command knows about the user's set-up, once loaded.

`genctl.config` fills these from flags > env > config file > defaults; every other module only reads
them. They live on the ground floor so that keys, providers and aliases can take them without importing
the loader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genctl.cost import PriceEntry
from genctl.errors import usage
from genctl.providers import registry
from genctl.values import Key

DEFAULT_COOLDOWN = 600.0  # seconds a failed key sits out ([defaults] key_cooldown)
# The longest time any setting or flag may name: beyond it time arithmetic overflows (1e308 s) or a
# wait can never end; 30 days is more than any generation, cool-down or cache life needs.
MAX_SECONDS = 30 * 86400.0


def money_arg(value: float | None, flag: str) -> float | None:
    """An amount of USD from a flag: finite and 0 or more (usage.invalid otherwise)."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise usage(f"{flag} must be an amount in USD, 0 or more, not {value:g}", f"Pass e.g. {flag} 0.50.")
    return value


def flag_seconds(value: float | None, flag: str, *, minimum: float = 0.1) -> float | None:
    """A seconds flag, checked: finite, from minimum to MAX_SECONDS (`--timeout nan` is refused, not run)."""
    if value is None:
        return None
    if not math.isfinite(value) or not minimum <= value <= MAX_SECONDS:
        raise usage(
            f"{flag} must be a number of seconds from {minimum:g} to {MAX_SECONDS:.0f}, not {value!r}.",
            fix=f"Give e.g. {flag} 600.",
        )
    return value


def text_arg(text: str | None, what: str) -> str | None:
    """`text` when it is valid Unicode (argv bytes that are not UTF-8 arrive as lone surrogates)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise usage(
            f"{what} is not valid UTF-8 text (byte {exc.start + 1} of it cannot be read).",
            fix=f"Pass {what} as UTF-8 (convert it with iconv -t UTF-8).",
        ) from exc
    return text


@dataclass(frozen=True)
class Target:
    """One provider's side of an alias: the model id there, and how its inputs are named there."""

    model: str
    params: Mapping[str, str] = field(default_factory=dict)  # input name as written -> name on this provider

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "params": dict(self.params)}


@dataclass(frozen=True)
class ProviderSettings:
    """One provider's keys, endpoint URLs and HTTP timeouts."""

    name: str  # a name of genctl.providers.registry
    keys: tuple[Key, ...] = ()
    # fal: queue_url run_url api_url rest_url; replicate: api_url
    urls: dict[str, str] = field(default_factory=dict)
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
    key_cooldown: float = DEFAULT_COOLDOWN  # seconds a key that failed (401/402/403) sits out of the rotation
    catalog_ttl: float = 86400.0  # seconds a cached model catalogue or input schema stays fresh
    # What names the catalogue's cache folder instead of the API URL: "sandbox" for --sandbox, whose URL
    # (a random port) changes every run while its catalogue does not.
    catalog_cache: str | None = None
    concurrency: int = 4  # `generate --batch`: items run at once
    history_enabled: bool = True  # [history] enabled: record every job (genctl.history)
    # Whether key rotation and failures are shared with other runs through the state dir; not for --sandbox,
    # whose demo keys have no business in the user's key state.
    key_state_shared: bool = True
    # [defaults] fallback: providers a generation may move on to, in order (None: no fallback).
    fallback: tuple[str, ...] | None = None
    max_cost: float | None = (
        None  # [defaults] max_cost / GENCTL_MAX_COST: USD a generation may cost (estimate)
    )
    prices: dict[str, PriceEntry] = field(default_factory=dict)  # [prices]: model id -> price (genctl.cost)
    aliases: dict[str, dict[str, Target | None]] = field(default_factory=dict)  # [aliases], over the built-in
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # for the CLI to show on stderr (never containing a secret)
    # Dotted setting ("defaults.timeout", "providers.fal.api_url", "config_file") -> where its value came
    # from: "default", "env", "file" or "flag" (config_file: --config; provider URLs: --sandbox).
    origins: dict[str, str] = field(default_factory=dict)


def is_alias_name(name: str) -> bool:
    """Whether `name` has the shape of an alias: no `/` (every model id has one) and not a bare version."""
    text = name.strip()
    return bool(text) and "/" not in text and ":" not in text and not registry.is_version_id(text)
