"""`genctl config`: which config file is read, the settings in effect and where each came from."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from genctl.cli import common
from genctl.cli.output import out

if TYPE_CHECKING:
    from genctl.settings import Settings, Target

config_app = typer.Typer(
    help="""Show which config file genctl reads and the settings in effect; write an example one.

    Examples:

        genctl config show

        genctl config init
    """,
    no_args_is_help=True,
)

# The env variables load_settings reads: a change to any of them means the settings must be read again.
_ENV_PREFIXES = ("GENCTL_", "FAL_", "REPLICATE_")
_cache: tuple[object, tuple[Any, ...], Settings] | None = None
_CHOSEN_BY = {"flag": "named by --config", "env": "named by GENCTL_CONFIG", "default": "default location"}


def settings_for_cli(*, env: Mapping[str, str] | None = None) -> Settings:
    """This invocation's Settings (global --config, os.environ), with their warnings shown once on stderr.

    Every command calls this instead of load_settings. Within one invocation the file is read and the
    warnings are shown once however many times it is called; a new invocation in the same process (the
    test runner gives each one its own sys.stderr) or a changed environment reads everything again.
    `env` replaces os.environ (`--sandbox` reads it without the key variables).
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import load_settings

    global _cache
    environ = os.environ if env is None else env
    env_key = tuple(sorted((k, v) for k, v in environ.items() if k.startswith(_ENV_PREFIXES)))
    key = (common.options.config_path, env_key)
    if _cache is not None and _cache[0] is sys.stderr and _cache[1] == key:
        return _cache[2]
    settings = load_settings(config_path=common.options.config_path, env=environ)
    for warning in settings.warnings:
        out.warn(warning)
    _cache = (sys.stderr, key, settings)
    return settings


@config_app.command("path")
def path_command(json_output: common.JsonOpt = False) -> None:
    """Print the config file genctl reads (--config, else $GENCTL_CONFIG, else the default) on stdout.

    Examples:

        genctl config path

        genctl config path --json
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.paths import cache_dir, resolve_config_file, state_dir

    out.configure(json_mode=json_output)
    path, chosen_by = resolve_config_file(config_path=common.options.config_path, env=os.environ)
    exists = path.is_file()
    if json_output:
        out.json(
            {
                "ok": True,
                "config_file": str(path),
                "exists": exists,
                "state_dir": str(state_dir(os.environ)),
                "cache_dir": str(cache_dir(os.environ)),
            }
        )
        return
    # The bare path on stdout, so `$EDITOR "$(genctl config path)"` works; the rest is for people.
    out.result(str(path))
    named = _CHOSEN_BY[chosen_by]
    if exists:
        out.info(f"exists ({named})")
    elif chosen_by == "default":
        out.info(
            f"does not exist ({named}): built-in defaults apply; `genctl config init` writes a commented one"
        )
    else:
        out.info(f"does not exist ({named}): commands stop with config.invalid until it does")


@config_app.command("init")
def init_command(
    path: Annotated[
        Path | None,
        typer.Option("--path", help="Write here instead of the config file genctl reads.", metavar="FILE"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    json_output: common.JsonOpt = False,
) -> None:
    """Write the commented example config (every setting, explained) where genctl reads it, mode 600.

    Examples:

        genctl config init

        genctl --config ./ci.toml config init

        genctl config init --path /tmp/genctl.toml --force
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config_edit import init_config
    from genctl.paths import resolve_config_file

    out.configure(json_mode=json_output)
    target = path or resolve_config_file(config_path=common.options.config_path, env=os.environ)[0]
    written = init_config(target, force=force)
    if json_output:
        out.json({"ok": True, "config_file": str(written)})
        return
    out.result(str(written))
    out.info("Wrote the example config (mode 600): uncomment what you need; keys stay in the environment.")


@config_app.command("show")
def show_command(json_output: common.JsonOpt = False) -> None:
    """Show the settings in effect, where each came from (default, env, file, flag); keys masked.

    Examples:

        genctl config show

        genctl --config ./ci.toml config show --json
    """
    out.configure(json_mode=json_output)
    settings = settings_for_cli()
    rows = _setting_rows(settings)
    key_rows = [
        {
            "provider": key.provider,
            "label": key.label,
            "masked": key.masked,
            "source": key.source,
            "account": key.account,
            "origin": "file" if key.source == str(settings.config_file) else "env",
        }
        for provider in settings.providers.values()
        for key in provider.keys
    ]
    if json_output:
        out.json({"ok": True, **_as_json(settings, rows, key_rows)})
        return
    out.table(["setting", "value", "origin"], [_text_row(*row) for row in rows])
    if key_rows:
        columns = ["provider", "label", "key", "source", "account"]
        table = [[k["provider"], k["label"], k["masked"], k["source"], k["account"]] for k in key_rows]
        out.table(columns, table, title="keys")
    else:
        out.info("No API keys configured: set FAL_KEY or REPLICATE_API_TOKEN, or add keys to the config.")
    params = [
        (f'models."{model}".{name}', value, "file")
        for model, values in settings.model_params.items()
        for name, value in values.items()
    ]
    if params:
        out.table(["setting", "value", "origin"], [_text_row(*row) for row in params], title="model defaults")
    aliases = [
        (f'aliases."{name}".{provider}', _alias_side(target), "file")
        for name, sides in settings.aliases.items()
        for provider, target in sides.items()
    ]
    if aliases:
        out.table(["setting", "value", "origin"], [_text_row(*row) for row in aliases], title="aliases")


def _setting_rows(settings: Settings) -> list[tuple[str, Any, str]]:
    """(dotted setting, value, origin) for every scalar setting, in config-file order."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import MODEL_KINDS, PROVIDERS
    from genctl.paths import resolve_config_file

    origin = settings.origins.get
    # The file that would be read, also when it does not exist (settings.config_file is None then).
    path, chosen_by = resolve_config_file(config_path=common.options.config_path, env=os.environ)
    rows: list[tuple[str, Any, str]] = [("config_file", str(path), chosen_by)]
    values: list[tuple[str, Any]] = [("defaults.provider", settings.provider)]
    values += [(f"defaults.{kind}_model", settings.models.get(kind)) for kind in MODEL_KINDS]
    values += [
        ("defaults.output_dir", settings.output_dir),
        ("defaults.timeout", settings.timeout),
        ("defaults.upload_threshold", settings.upload_threshold),
        ("defaults.key_cooldown", settings.key_cooldown),
        ("defaults.catalog_ttl", settings.catalog_ttl),
        ("defaults.concurrency", settings.concurrency),
        ("defaults.fallback", None if settings.fallback is None else list(settings.fallback)),
        ("history.enabled", settings.history_enabled),
    ]
    for name in PROVIDERS:
        provider = settings.providers.get(name)
        if provider is None:
            continue
        values += [(f"providers.{name}.{url}", value) for url, value in provider.urls.items()]
        values += [
            (f"providers.{name}.timeout", provider.timeout),
            (f"providers.{name}.connect_timeout", provider.connect_timeout),
        ]
    rows += [(setting, value, origin(setting, "default")) for setting, value in values]
    return rows


def _text_row(setting: str, value: Any, origin: str) -> list[str]:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import ENV_VARS

    shown = "(none)" if value is None else json.dumps(value) if isinstance(value, list) else str(value)
    if setting == "config_file" and not os.path.isfile(shown):
        shown += " (does not exist)"
    if origin == "env" and setting in ENV_VARS:
        origin = f"env {ENV_VARS[setting]}"
    elif origin == "env" and setting == "config_file":
        origin = "env GENCTL_CONFIG"
    return [setting, shown, origin]


def _as_json(
    settings: Settings, rows: list[tuple[str, Any, str]], keys: list[dict[str, Any]]
) -> dict[str, Any]:
    """The settings nested as in the config file, each leaf {"value", "origin"}; keys masked."""
    document: dict[str, Any] = {}
    for setting, value, origin in rows:
        if setting == "config_file":
            document["config_file"] = {"value": value, "exists": os.path.isfile(value), "origin": origin}
            continue
        *parents, leaf = setting.split(".")
        node = document
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = {"value": None if value is None else _json_value(value), "origin": origin}
    for provider in document.get("providers", {}):
        document["providers"][provider]["keys"] = [
            {k: v for k, v in key.items() if k != "provider"} for key in keys if key["provider"] == provider
        ]
    document["models"] = settings.model_params
    document["aliases"] = {
        name: {p: None if t is None else t.to_json() for p, t in sides.items()}
        for name, sides in settings.aliases.items()
    }
    document["warnings"] = list(settings.warnings)
    return document


def _json_value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | list) else str(value)


def _alias_side(target: Target | None) -> str:
    """`model (params: a → b)`, or what an empty side means (the provider is removed from the alias)."""
    if target is None:
        return '"" (removed)'
    renames = ", ".join(f"{a} → {b}" for a, b in target.params.items())
    return target.model + (f" (params: {renames})" if renames else "")
