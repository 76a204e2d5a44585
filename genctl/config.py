"""The config loader: Settings from flags > env > config file > defaults (edits: genctl.config_edit)."""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import re
import stat
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from genctl import paths
from genctl.cost import parse_price_tables as price_tables
from genctl.errors import GenctlError, error
from genctl.key_sources import clean_entry, env_keys, merge_keys
from genctl.providers import registry
from genctl.settings import (
    DEFAULT_COOLDOWN,
    MAX_SECONDS,
    ProviderSettings,
    Settings,
    Target,
    is_alias_name,
)
from genctl.values import Key, mask

PROVIDERS = registry.NAMES
MODEL_KINDS = ("image", "video", "audio")

DEFAULT_URLS: dict[str, dict[str, str]] = {p.name: dict(p.default_urls) for p in registry.PROVIDERS.values()}
_CHOICES = " or ".join(f'"{name}"' for name in PROVIDERS)
_LIST = "[" + ", ".join(f'"{name}"' for name in PROVIDERS) + "]"

# Setting (dotted, as in the file) -> the environment variable that overrides it.
ENV_VARS: dict[str, str] = {
    "defaults.provider": "GENCTL_PROVIDER",
    "defaults.output_dir": "GENCTL_OUTPUT_DIR",
    "defaults.timeout": "GENCTL_TIMEOUT",
    "defaults.key_cooldown": "GENCTL_KEY_COOLDOWN",
    "defaults.concurrency": "GENCTL_CONCURRENCY",
    "defaults.fallback": "GENCTL_FALLBACK",
    "defaults.max_cost": "GENCTL_MAX_COST",
    **{
        f"providers.{p}.{name}": f"GENCTL_{p.upper()}_{name.upper()}"
        for p, urls in DEFAULT_URLS.items()
        for name in urls
    },
}

SECTIONS = ("defaults", "providers", "models", "history", "aliases", "prices")
DEFAULTS_SCHEMA: dict[str, str] = {
    "provider": "provider",
    **{f"{kind}_model": "text" for kind in MODEL_KINDS},
    "output_dir": "path",
    "timeout": "seconds",
    "upload_threshold": "bytes",
    "key_cooldown": "seconds",
    "catalog_ttl": "seconds",
    "concurrency": "count",
    "fallback": "providers",
    "max_cost": "money",
}
HISTORY_SCHEMA: dict[str, str] = {"enabled": "bool"}
PROVIDER_SCHEMA: dict[str, dict[str, str]] = {
    p: {"keys": "keys", **dict.fromkeys(urls, "url"), "timeout": "seconds", "connect_timeout": "seconds"}
    for p, urls in DEFAULT_URLS.items()
}
KEY_FIELDS = ("key", "label", "account")
_TARGET_FIELDS = ("model", "params")  # an [aliases] side written as a table

# kind -> (what a value must be, an example value) for error messages and their fixes.
_KINDS: dict[str, tuple[str, str]] = {
    "provider": (_CHOICES, f'"{registry.DEFAULT}"'),
    "text": ("a non-empty string", '"fal-ai/flux/dev"'),
    "path": ("a path string", '"~/Pictures/genctl"'),
    "seconds": ("a number of seconds greater than 0", "600"),
    "bytes": ("a whole number of bytes, 0 or more", "1000000"),
    "count": ("a whole number, 1 or more", "4"),
    "bool": ("true or false", "false"),
    "money": ("an amount in USD, 0 or more", "0.50"),
    "providers": (f"a list of providers, e.g. {_LIST}", _LIST),
    "url": ("an http:// or https:// URL", '"https://gateway.example.com"'),
}
# The largest value each kind of number may take: beyond it a value is clamped, with a warning.
_MAXIMA: dict[str, float] = {"seconds": MAX_SECONDS, "bytes": float(2**40), "count": 256.0}
_KEYS_FIX = (
    'Write keys = ["…"] or keys = [{key = "…", label = "ci-1", account = "acme"}] '
    "(example: `genctl config init`)."
)


def load_settings(
    *, config_path: Path | None = None, env: Mapping[str, str] | None = None, missing_ok: bool = False
) -> Settings:
    """Read env and the config file into Settings. Flags are applied by the command afterwards.

    A file named by --config or GENCTL_CONFIG must exist, unless `missing_ok` (a command about to create it).
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    path, chosen_by = paths.resolve_config_file(config_path=config_path, env=environ)
    data = _read(path)
    if data is None and chosen_by != "default" and not missing_ok:
        named_by = "--config" if chosen_by == "flag" else "GENCTL_CONFIG"
        fix = f"Create it (example: `genctl config init`) or point {named_by} at an existing file."
        raise _invalid(f"config file {path} (named by {named_by}) does not exist", fix)
    loader = _Loader(path, environ, data or {})
    return loader.settings(config_file=path if data is not None else None, chosen_by=chosen_by)


def for_sandbox(settings: Settings, env: Mapping[str, str]) -> Settings:
    """Settings pointed at a local emulator: its URLs (GENCTL_*_URL in `env`) and keys, never the user's."""
    box = _Loader(Path("<sandbox>"), env, {}).settings(config_file=None, chosen_by="default")
    providers: dict[str, ProviderSettings] = {}
    for name, mine in settings.providers.items():
        keys = box.providers[name].keys or _sandbox_keys(name)
        providers[name] = replace(mine, urls=box.providers[name].urls, keys=keys)
    origins = {
        **settings.origins,
        **{f"providers.{p}.{url}": "flag" for p in providers for url in DEFAULT_URLS[p]},
    }
    # A job of an in-process emulator cannot be recovered once the process ends: keep it out of history;
    # and its demo keys out of the user's key state.
    return replace(
        settings,
        providers=providers,
        origins=origins,
        history_enabled=False,
        catalog_cache="sandbox",
        key_state_shared=False,
    )


def _sandbox_keys(provider: str) -> tuple[Key, ...]:
    # The emulator's demo keys, when `env` brings none: the user's real keys must not leave for a test server.
    from genctl.sandbox.keys import DEMO_KEYS  # the emulator only loads for --sandbox

    return (Key(provider=provider, label="sandbox", source="sandbox", _secret=DEMO_KEYS[provider]),)


def read_config(path: Path) -> dict[str, Any]:
    """The raw TOML tables of a config file ({} when it does not exist), for genctl.config_edit."""
    return _read(path) or {}


def _read(path: Path) -> dict[str, Any] | None:
    fix = f"Make {path} a readable file (chmod 600 {path}) or choose another with --config."
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode) and str(path) != os.devnull:
            # A FIFO would block the read forever, a device could never end: only files are read.
            fix = f"Point --config / GENCTL_CONFIG at a regular file; {path} is a FIFO, socket or device."
            raise _invalid(f"config file {path} is not a regular file", fix)
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError as exc:
        fix = f"{path} is a folder: name the file itself, e.g. --config {path / 'config.toml'}."
        raise _invalid(f"cannot read config file {path}: it is a folder", fix) from exc
    except OSError as exc:
        raise _invalid(f"cannot read config file {path}: {exc.strerror or exc}", fix) from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _invalid(f"config file {path} is not UTF-8 text", f"Save {path} as UTF-8.") from exc
    except RecursionError as exc:
        raise _invalid(
            f"config file {path} nests arrays or tables too deeply to read",
            f"Edit {path}: no setting needs more than a few levels of nesting.",
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        reason, line, column = _toml_position(str(exc), raw.decode("utf-8"))
        fix = f"Fix the TOML at line {line}, column {column} of {path}. Model ids need quotes: "
        fix += '[models."fal-ai/flux/dev"]; strings need "double quotes".'
        raise _invalid(f"{path}:{line}:{column}: {reason}", fix) from exc


def _invalid(message: str, fix: str) -> GenctlError:
    return error("config.invalid", message, fix=fix)


def _toml_position(message: str, text: str) -> tuple[str, int, int]:
    """tomllib puts the position in the message text: split it out as (reason, line, column)."""
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        return message[: found.start()], int(found.group(1)), int(found.group(2))
    reason = re.sub(r"\s*\(at end of document\)$", "", message)
    lines = text.splitlines() or [""]
    return reason, len(lines), len(lines[-1]) + 1


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    return "a table" if isinstance(value, dict) else names.get(type(value), "a date or time")


def _near(name: str, choices: Any, wrap: str = "{}") -> str:
    found = difflib.get_close_matches(name, list(choices), n=1)
    return f" — did you mean {wrap.format(found[0])}?" if found else ""


def _convert(kind: str, value: object, where: tuple[str, str, Path | None]) -> Any:
    """A setting's value in its Python type; config.invalid naming the setting when it is wrong.

    `where` is (how the user named it, the bare key, the config file or None for env and flags).
    """
    if isinstance(value, str) and kind in ("seconds", "bytes", "count", "money") and where[2] is None:
        # Env and flags arrive as text; the file must use TOML numbers (a quoted "30" is a mistake there).
        with contextlib.suppress(ValueError):
            value = float(value) if kind in ("seconds", "money") else int(value)
    if isinstance(value, str) and kind == "providers" and where[2] is None:
        value = [name.strip() for name in value.split(",") if name.strip()]  # GENCTL_FALLBACK=fal,replicate
    checked = _check(kind, value)
    if checked is not None:
        return checked
    label, key, file = where
    what, example = _KINDS[kind]
    if isinstance(value, str) and (owner := registry.key_owner(value.strip())):
        # A key pasted into the wrong setting: quoted as every key is, masked (#12).
        got = f"what looks like a {registry.label(owner)} key ({mask(value.strip(), owner)})"
    elif isinstance(value, str) and kind in ("provider", "seconds", "bytes", "count", "bool", "money"):
        got = repr(value) + (_near(value, PROVIDERS) if kind == "provider" else "")
    elif isinstance(value, list) and kind == "providers":
        wrong = [p for p in value if p not in PROVIDERS]
        got = f"{wrong[0]!r}{_near(str(wrong[0]), PROVIDERS)}" if wrong else "a list naming a provider twice"
    elif (
        kind in ("seconds", "bytes", "count", "money")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        got = str(value)  # 0, negative, a fraction or not finite: the number itself says what is wrong
    elif isinstance(value, str) and kind == "url":
        # Not echoed: a URL may carry a token in its query string or a password before its host.
        got = url_problem(value.strip()) or "a string without http:// or https://"
    else:
        got = _type_name(value)
    if file is None and kind == "providers":  # GENCTL_FALLBACK takes names and commas, not a TOML list
        names = ",".join(PROVIDERS)
        message = f"{label} must be providers separated by commas, e.g. {names}, not {got}"
        fix = f"Set {label} to e.g. {names}."
    elif file is None:
        message, fix = f"{label} must be {what}, not {got}", f"Set {label} to e.g. {example.strip(chr(34))}."
    else:
        message = f"{label} in {file} must be {what}, not {got}"
        fix = f"Edit {file}: write it as {key} = {example} (example: `genctl config init`)."
    raise _invalid(message, fix)


def _check(kind: str, value: object) -> Any:
    """The converted value, or None when it does not fit the kind."""
    if kind in ("seconds", "bytes"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        if kind == "seconds":
            return float(value) if value > 0 else None
        return value if isinstance(value, int) and value >= 0 else None
    if kind == "money":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        return float(value) if value >= 0 else None
    if kind == "count":
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "providers":
        ok = isinstance(value, list) and all(p in PROVIDERS for p in value) and len(set(value)) == len(value)
        return tuple(value) if ok and isinstance(value, list) else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if kind == "provider":
        return text if text in PROVIDERS else None
    if kind == "path":
        return Path(text).expanduser()
    if kind == "url":
        return text.rstrip("/") if url_problem(text) is None else None
    return text


def url_problem(text: str) -> str | None:
    """What makes `text` unusable as a provider URL, in words that never quote it; None when it is fine."""
    if not re.match(r"(?i)https?://[^/]", text):
        return "a string without http:// or https://"
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port  # ValueError for a port that is not a number from 0 to 65535
    except ValueError as exc:
        said = "a malformed [IPv6] address" if "IPv6" in str(exc) else "a port that is not 1-65535"
        return f"an invalid URL ({said})"
    if port == 0:
        return "an invalid URL (a port that is not 1-65535)"
    if parts.username is not None or parts.password is not None:
        # httpx would send it as Authorization: Basic, in place of the key, and it would be printed.
        return "a URL with a user name or password in it (user:password@host)"
    if not parts.hostname or re.search(r"[\s\x00-\x1f\x7f]", text):
        return "an invalid URL (no host, or a space or control character in it)"
    try:
        httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as exc:
        # httpx's own words up to the quoted part, which may be a secret.
        return f"an invalid URL ({re.split(r'[:,]', str(exc), maxsplit=1)[0].lower()})"
    return None


class _Loader:
    """One pass over env and the parsed file, collecting warnings and where each value came from."""

    def __init__(self, path: Path, env: Mapping[str, str], data: dict[str, Any]) -> None:
        self.path = path
        self.env = env
        self.data = data
        self.warnings: list[str] = []
        self.origins: dict[str, str] = {}
        self.file_has_keys = False

    def settings(self, *, config_file: Path | None, chosen_by: str) -> Settings:
        self._warn_unknown()
        self.origins["config_file"] = chosen_by
        defaults = self._table(self.data, "defaults", "[defaults]")
        models = {kind: self._value(f"defaults.{kind}_model", defaults) for kind in MODEL_KINDS}
        provider_tables = self._table(self.data, "providers", "[providers]")
        providers = {
            p: self._provider(p, self._table(provider_tables, p, f"[providers.{p}]")) for p in PROVIDERS
        }
        if config_file is not None and self.file_has_keys:
            self._check_permissions(config_file)
        return Settings(
            config_file=config_file,
            provider=self._value("defaults.provider", defaults),
            models={kind: model for kind, model in models.items() if model is not None},
            output_dir=self._value("defaults.output_dir", defaults, Path(".")),
            timeout=self._value("defaults.timeout", defaults),
            upload_threshold=self._value("defaults.upload_threshold", defaults, 1_000_000),
            key_cooldown=self._value("defaults.key_cooldown", defaults, DEFAULT_COOLDOWN),
            catalog_ttl=self._value("defaults.catalog_ttl", defaults, 86400.0),
            concurrency=self._value("defaults.concurrency", defaults, 4),
            history_enabled=self._value(
                "history.enabled", self._table(self.data, "history", "[history]"), True
            ),
            providers=providers,
            model_params=self._model_params(),
            fallback=self._value("defaults.fallback", defaults),
            max_cost=self._value("defaults.max_cost", defaults),
            prices=price_tables(self._table(self.data, "prices", "[prices]"), self.path),
            aliases=alias_tables(self._table(self.data, "aliases", "[aliases]"), self.path, self.warnings),
            warnings=tuple(self.warnings),
            origins=self.origins,
        )

    def _table(self, parent: Mapping[str, Any], name: str, label: str) -> dict[str, Any]:
        value = parent.get(name, {})
        if not isinstance(value, dict):
            fix = f"Edit {self.path}: start the section with a {label} line (example: `genctl config init`)."
            raise _invalid(f"{label} in {self.path} must be a table, not {_type_name(value)}", fix)
        return value

    def _value(self, name: str, table: Mapping[str, Any], default: Any = None) -> Any:
        """One setting: its env variable if set, else the file, else the default."""
        section, _, key = name.rpartition(".")
        if section in ("defaults", "history"):
            kind = (DEFAULTS_SCHEMA if section == "defaults" else HISTORY_SCHEMA)[key]
        else:
            kind = PROVIDER_SCHEMA[section.split(".")[1]][key]
        var = ENV_VARS.get(name)
        if var and self.env.get(var, "").strip():
            self.origins[name] = "env"
            return self._clamped(kind, _convert(kind, self.env[var], (var, key, None)), name)
        if key in table:
            self.origins[name] = "file"
            return self._clamped(
                kind, _convert(kind, table[key], (f"[{section}] {key}", key, self.path)), name
            )
        self.origins[name] = "default"
        return default

    def _clamped(self, kind: str, value: Any, name: str) -> Any:
        """A number within its kind's maximum: beyond it (`key_cooldown = 1e308`) the maximum; warned."""
        top = _MAXIMA.get(kind)
        if top is None or value <= top:
            return value
        kept = type(value)(top)
        self.warnings.append(f"{name} = {value:g} is more than genctl allows: {kept:.0f} is used")
        return kept

    def _provider(self, name: str, table: Mapping[str, Any]) -> ProviderSettings:
        prefix = f"providers.{name}"
        urls = {
            url: self._value(f"{prefix}.{url}", table, default) for url, default in DEFAULT_URLS[name].items()
        }
        keys = merge_keys(
            [*env_keys(name, self.env, self.warnings), *self._file_keys(name, table.get("keys", []))]
        )
        return ProviderSettings(
            name=name,
            keys=tuple(keys),
            urls=urls,
            timeout=self._value(f"{prefix}.timeout", table, 30.0),
            connect_timeout=self._value(f"{prefix}.connect_timeout", table, 10.0),
        )

    def _file_keys(self, provider: str, entries: object) -> list[Key]:
        setting = f"[providers.{provider}] keys"
        if not isinstance(entries, list):
            raise _invalid(
                f"{setting} in {self.path} must be a list of keys, not {_type_name(entries)}", _KEYS_FIX
            )
        keys: list[Key] = []
        for number, entry in enumerate(entries, start=1):
            where = f"{setting} #{number} in {self.path}"
            fields = {"key": entry} if isinstance(entry, str) else entry
            if not isinstance(fields, dict):
                got = _type_name(entry)
                raise _invalid(f'{where} must be a string or a table {{key = "…"}}, not {got}', _KEYS_FIX)
            for name in fields:
                if name not in KEY_FIELDS:
                    self.warnings.append(f"unknown field {name} in {where}{_near(name, KEY_FIELDS)}")
            for name in KEY_FIELDS:
                # The value is never echoed: a misplaced field may hold the secret.
                if (name == "key" or name in fields) and not isinstance(fields.get(name), str):
                    raise _invalid(f'{where} needs {name} = "…" as a string', _KEYS_FIX)
            secret = clean_entry(fields["key"], provider, where, self.warnings)
            if not secret:
                self.warnings.append(f"{where} is empty: ignored")
                continue
            label = fields.get("label") or f"config#{number}"
            account = fields.get("account") or None
            self.file_has_keys = True
            keys.append(
                Key(provider=provider, label=label, source=str(self.path), _secret=secret, account=account)
            )
        return keys

    def _model_params(self) -> dict[str, dict[str, Any]]:
        models = self._table(self.data, "models", "[models]")
        for model_id in models:
            label = f'[models."{model_id}"]'
            for name, value in self._table(models, model_id, label).items():
                if not _all_finite(value):
                    raise _invalid(
                        f"{label} {name} in {self.path} holds nan or inf, which no request can carry",
                        f"Edit {self.path}: give {name} a finite number.",
                    )
        return {model_id: dict(params) for model_id, params in models.items()}

    def _warn_unknown(self) -> None:
        for name, value in self.data.items():
            if name not in SECTIONS and isinstance(value, dict):
                self._unknown(f"section [{name}]", name, SECTIONS, "[{}]")
            elif name not in SECTIONS:
                # Most often a [defaults] setting written above the first section header.
                self._unknown(f"setting {name}", name, DEFAULTS_SCHEMA, "[defaults] {}")
        defaults, providers = self.data.get("defaults"), self.data.get("providers")
        for name in defaults if isinstance(defaults, dict) else ():
            if name not in DEFAULTS_SCHEMA:
                self._unknown(f"setting [defaults] {name}", name, DEFAULTS_SCHEMA)
        history = self.data.get("history")
        for name in history if isinstance(history, dict) else ():
            if name not in HISTORY_SCHEMA:
                self._unknown(f"setting [history] {name}", name, HISTORY_SCHEMA)
        for provider, table in providers.items() if isinstance(providers, dict) else ():
            if provider not in PROVIDER_SCHEMA:
                self._unknown(f"provider [providers.{provider}]", provider, PROVIDERS, "[providers.{}]")
                continue
            for name in table if isinstance(table, dict) else ():
                if name not in PROVIDER_SCHEMA[provider]:
                    self._unknown(f"setting [providers.{provider}] {name}", name, PROVIDER_SCHEMA[provider])

    def _unknown(self, what: str, name: str, choices: Any, wrap: str = "{}") -> None:
        self.warnings.append(f"unknown {what} in {self.path}{_near(name, choices, wrap)}")

    def _check_permissions(self, config_file: Path) -> None:
        if os.name == "nt":
            return  # POSIX modes mean nothing there; ACLs are doctor's business
        with contextlib.suppress(OSError):
            mode = config_file.stat().st_mode & 0o777
            if mode & 0o077:
                self.warnings.append(
                    f"{config_file} holds API keys and other users can access it (mode {mode:o}): "
                    f"run chmod 600 {config_file}"
                )


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_all_finite(item) for item in value)
    if isinstance(value, dict):
        return all(_all_finite(item) for item in value.values())
    return True


def alias_tables(
    data: Mapping[str, Any], path: Path, warnings: list[str]
) -> dict[str, dict[str, Target | None]]:
    """The `[aliases]` tables of a config file: name -> provider -> Target (None: `provider = ""` removes it).

    A side is `fal = "fal-ai/flux/dev"`, or a table: `replicate = { model = "…", params = { a = "b" } }`.
    """
    found: dict[str, dict[str, Target | None]] = {}
    for name, sides in data.items():
        where = f'[aliases."{name}"] in {path}'
        if not is_alias_name(name):
            raise _invalid(
                f'alias name "{name}" in {path} has a "/" or ":", so it would read as a model id',
                f'Edit {path}: name the alias without "/" or ":", e.g. [aliases."my-flux"].',
            )
        if not isinstance(sides, dict):
            raise _invalid(
                f"{where} must be a table", f'Edit {path}: write [aliases."{name}"] then fal = "…".'
            )
        found[name] = {}
        for provider, side in sides.items():
            if provider not in PROVIDERS:
                near = difflib.get_close_matches(provider, PROVIDERS, n=1)
                hint = f" — did you mean {near[0]}?" if near else ""
                warnings.append(f"unknown provider {provider} in {where}{hint}")
                continue
            found[name][provider] = _target(side, f"{where}, {provider}", path, warnings)
    return found


def _target(side: object, where: str, path: Path, warnings: list[str]) -> Target | None:
    fix = f'Edit {path}: write fal = "fal-ai/…" or replicate = {{ model = "owner/name", params = {{ … }} }}.'
    if isinstance(side, str):
        return Target(side.strip()) if side.strip() else None
    if not isinstance(side, dict) or not isinstance(side.get("model"), str) or not side["model"].strip():
        raise _invalid(f'{where} must be a model id or a table with model = "…"', fix)
    for extra in side:
        if extra not in _TARGET_FIELDS:
            warnings.append(f"unknown field {extra} in {where}")
    params = side.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) and v for v in params.values()):
        raise _invalid(
            f'{where}: params must map input names to names, e.g. {{ guidance_scale = "guidance" }}', fix
        )
    return Target(side["model"].strip(), dict(params))
