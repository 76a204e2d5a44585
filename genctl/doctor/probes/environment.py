"""Doctor's local checks: versions, the config file, where keys come from, proxies and CA settings. No I/O
beyond reading the environment and stat-ing files."""

from __future__ import annotations

import os
import platform
import stat
import sys
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from genctl import __version__, diagnose
from genctl.diagnose import Finding
from genctl.doctor.probes import Check, DoctorContext, Probe
from genctl.paths import resolve_config_file
from genctl.providers import registry

PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
CA_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")  # what httpx reads (trust_env), so what genctl trusts
FOREIGN_CA_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # other tools' settings; httpx ignores them
_CHOSEN_BY = {"flag": "named by --config", "env": "named by GENCTL_CONFIG", "default": "the default location"}


def probes(ctx: DoctorContext) -> list[Probe]:
    def make(name: str, subject: str, run: Callable[[], list[Check]]) -> Probe:
        return Probe(f"environment.{name}", "environment", None, subject, run)

    return [
        make("versions", "genctl", lambda: [versions(ctx)]),
        make("config", "config file", lambda: config_checks(ctx)),
        make("keys", "keys", lambda: key_sources(ctx)),
        make("network", "proxy and CA settings", lambda: network_settings(ctx, os.environ)),
    ]


def _check(
    ctx: DoctorContext, name: str, subject: str, finding: Finding, provider: str | None = None
) -> Check:
    return Check(f"environment.{name}", "environment", provider, subject, finding)


def versions(ctx: DoctorContext) -> Check:

    python = f"{platform.python_implementation()} {platform.python_version()}"
    where = f"{platform.system()} {platform.release()}".strip()
    finding = diagnose.ok(
        f"genctl {__version__}, {python} on {where}, httpx {httpx.__version__}",
        genctl=__version__,
        python=platform.python_version(),
        platform=sys.platform,
        httpx=httpx.__version__,
    )
    return _check(ctx, "versions", "genctl", finding)


def config_checks(ctx: DoctorContext) -> list[Check]:
    """Found, parsed, private; then each warning the loader had (unknown settings, cleaned keys, modes)."""

    settings = ctx.settings
    path, chosen_by = resolve_config_file(config_path=ctx.options.config_path, env=os.environ)
    checks: list[Check] = []
    subject = "config file"
    if ctx.load_error is not None:
        checks.append(_check(ctx, "config", subject, diagnose.from_error(ctx.load_error)))
    elif settings.config_file is None:
        message = f"none at {path}: built-in defaults (example: `genctl config init`)"
        checks.append(_check(ctx, "config", subject, diagnose.ok(message, path=str(path), exists=False)))
    else:
        mode = _mode(settings.config_file)
        file_keys = sum(1 for p in settings.providers.values() for k in p.keys if k.source == str(path))
        parts = [f"{settings.config_file} ({_CHOSEN_BY[chosen_by]}) parsed"]
        if mode is not None:
            parts.append(f"mode {mode:o}")
        parts.append(f"{file_keys} key(s), {len(settings.model_params)} model default table(s)")
        checks.append(
            _check(
                ctx,
                "config",
                subject,
                diagnose.ok(", ".join(parts), path=str(path), exists=True, mode=mode, keys=file_keys),
            )
        )
    for number, warning in enumerate(settings.warnings, start=1):
        checks.append(_check(ctx, f"config.warning{number}", subject, _warning(warning, path)))
    return checks


def _mode(path: os.PathLike[str] | str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _warning(text: str, path: object) -> Finding:
    """A loader warning (genctl.config / genctl.key_sources) as a Finding: permissions, a cleaned key, a
    typo.

    The loader hands warnings over as text (Settings.warnings); these phrases are its own (config.py
    `_check_permissions`, key_sources.py `_cleaned`), so a reworded warning falls back to config.invalid.
    """
    if "other users can access it" in text:
        return Finding("config.permissions", "warn", text, f"chmod 600 {path}")
    if "from the key" in text:
        fix = (
            "Remove the quotes or whitespace where the key is set: genctl trims them, other tools send them."
        )
        return Finding("key.format", "warn", text, fix)
    return Finding(
        "config.invalid",
        "warn",
        text,
        "Fix the name in the config file (example: `genctl config init`).",
    )


def key_sources(ctx: DoctorContext) -> list[Check]:
    """Which variables and files supplied keys (names and counts only); key.missing where none did."""
    checks: list[Check] = []
    counts: dict[str, int] = {}
    for settings in ctx.settings.providers.values():
        for key in settings.keys:
            source = "config file" if key.source == str(ctx.settings.config_file) else key.source
            name = f"{source} ({registry.label(settings.name)})" if source == "config file" else source
            counts[name] = counts.get(name, 0) + 1
    scope = ctx.options.providers
    have = {p for p in scope if ctx.settings.providers[p].keys}
    if counts:
        listed = ", ".join(f"{name}: {n} key{'s' if n > 1 else ''}" for name, n in counts.items())
        checks.append(_check(ctx, "keys", "keys", diagnose.ok(f"keys from {listed}", sources=counts)))
    for provider in scope:
        if provider in have:
            continue
        env, page = registry.info(provider).key_env, registry.info(provider).key_page
        message = f"No {provider} key is configured."
        fix = f'export {env}=… (create one at {page}), or add one: echo "$KEY" | genctl keys add {provider}.'
        wanted = ctx.options.provider_flag == provider or not have
        finding = (
            Finding("key.missing", "fail", message, fix)
            if wanted
            else diagnose.skipped("key.missing", f"{message} Its key checks are skipped.", fix)
        )
        checks.append(_check(ctx, f"keys.{provider}", provider, finding, provider))
    return checks


def network_settings(ctx: DoctorContext, env: Mapping[str, str]) -> list[Check]:
    """Proxies and CA bundles in effect (proxy passwords masked), custom endpoints, and what cannot work."""
    checks: list[Check] = []
    shown = [f"{name}={masked_proxy(value)}" for name, value in _present(env, PROXY_VARS)]
    shown += [f"{name}={value}" for name, value in _present(env, CA_VARS)]
    custom = [
        f"{p}.{name}"
        for p, provider in ctx.settings.providers.items()
        for name in provider.urls
        if ctx.settings.origins.get(f"providers.{p}.{name}", "default") != "default"
    ]
    summary = "; ".join(shown) if shown else "no proxy; the default CA certificates"
    if custom:
        summary += f"; custom endpoints: {', '.join(custom)}"
    checks.append(
        _check(
            ctx, "network", "proxy and CA settings", diagnose.ok(summary, settings=shown, endpoints=custom)
        )
    )
    for name, value in _present(env, CA_VARS):
        if not os.path.exists(value):
            message = f"{name} names {value}, which does not exist: every https call will fail."
            fix = f"Point {name} at a PEM bundle (or folder) that exists, or unset it."
            checks.append(
                _check(ctx, f"network.{name.lower()}", name, Finding("network.tls", "fail", message, fix))
            )
    if not any(True for _ in _present(env, CA_VARS)):
        for name, value in _present(env, FOREIGN_CA_VARS):
            message = (
                f"{name}={value} is set, but genctl (httpx) reads SSL_CERT_FILE / SSL_CERT_DIR, not {name}."
            )
            fix = f"If you need that CA bundle, also set SSL_CERT_FILE={value}."
            checks.append(
                _check(ctx, f"network.{name.lower()}", name, Finding("network.tls", "warn", message, fix))
            )
    return checks


def _present(env: Mapping[str, str], names: Iterable[str]) -> Iterable[tuple[str, str]]:
    """(NAME, value) of each variable set, upper or lower case (both are honoured for proxies)."""
    for name in names:
        value = env.get(name) or env.get(name.lower())
        if value and value.strip():
            yield name, value.strip()


def masked_proxy(value: str) -> str:
    """A proxy URL with any password replaced: `http://user:***@proxy:3128`."""
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.password is None:
        return value
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
