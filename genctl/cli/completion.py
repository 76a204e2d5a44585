"""Shell completion of values (`genctl --install-completion`): model ids from the cached catalogue and key
labels from the config. Completion never sends a request, never prints, and never shows a key."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from genctl.providers import registry

if TYPE_CHECKING:
    from genctl.settings import Settings


def _settings(ctx: typer.Context) -> Settings | None:
    """The settings as the command would read them (`--config` if already typed), or None."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import load_settings
    from genctl.errors import GenctlError

    config = ctx.find_root().params.get("config")  # typed before the command: `genctl --config F …`
    try:
        return load_settings(config_path=config, env=os.environ)
    except GenctlError:  # a broken config: nothing to offer (the command itself will say why)
        return None


def _providers(ctx: typer.Context) -> tuple[str, ...]:
    chosen = ctx.params.get("provider")
    return (chosen,) if chosen in registry.NAMES else registry.NAMES


def complete_model(ctx: typer.Context, incomplete: str) -> list[str]:
    """Model ids in the catalogue cache (of --provider, if given) that start with what is typed. Only
    what `genctl models` or a generation cached: nothing cached, nothing offered; no request is sent."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.catalog import Catalog

    settings = _settings(ctx)
    if settings is None:
        return []
    catalog = Catalog(settings, cache_only=True)  # no HTTP client: it cannot fetch
    ids = {i for p in _providers(ctx) for i in catalog.cached_ids(p) if i.startswith(incomplete)}
    return sorted(ids)


def complete_key_label(ctx: typer.Context, incomplete: str) -> list[str]:
    """Labels of the config file's keys (of PROVIDER, if given): what `keys remove` takes; never a key."""
    settings = _settings(ctx)
    if settings is None or settings.config_file is None:
        return []
    source = str(settings.config_file)
    return [
        key.label
        for name in _providers(ctx)
        for key in settings.providers[name].keys
        if key.source == source and key.label.startswith(incomplete)
    ]
