"""Doctor's alias check: which providers can serve each model alias now — from the checks already made
(keys, connectivity) and each alias's model looked up in that provider's catalogue (free; at once).

One check (`aliases`, its own area in the report), not one per alias: the aliases are grouped by the
providers that can serve them, and the details have each alias and provider. A provider that cannot serve
is already a failed key or connectivity check, so for those the alias check only says what that means (ok,
or skip when no provider can serve any). It warns when an alias names a model its provider's catalogue
does not have (`-m ALIAS` would fail with model.not_found there), and when `[defaults] fallback` names a
provider that cannot serve (the fallback could not happen).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from genctl import deadline, diagnose
from genctl.aliases import Alias, table
from genctl.catalog import NotCached
from genctl.diagnose import Finding
from genctl.doctor.probes import Check, DoctorContext, Probe
from genctl.doctor.probes.models import models_to_check
from genctl.errors import GenctlError
from genctl.providers import registry

# Look-ups at once: every side of the built-in aliases (24) in one wave, so the check costs one round trip
# rather than one per 8 look-ups. Each is one GET (fal: Find mode, one id; Replicate: the model).
MAX_LOOKUPS = 32
_PREFETCH = "aliases.absent"  # ctx.prefetched key prefix: (_PREFETCH, (provider, model)) -> absent


@dataclass(frozen=True)
class _Side:
    """Whether one provider can serve one model: "ok", "fail" (with the code why) or "skip" (unknown)."""

    status: str
    code: str = ""

    def to_json(self, model: str) -> dict[str, Any]:
        return {
            "model": model,
            "can_serve": {"ok": True, "fail": False}.get(self.status),
            "code": self.code or None,
        }


def prefetch(ctx: DoctorContext) -> list[Probe]:
    """A phase-one source (genctl.doctor.SOURCES) with no check of its own: the catalogue look-ups of every
    alias side, at once with the key checks rather than after them (they do not depend on the verdicts,
    only their reading does); `check_aliases` then reads the answers from `ctx.prefetched`."""
    if ctx.offline:
        return []
    checked = {(item.provider, item.model) for item in models_to_check(ctx.settings, ctx.options)}
    wanted = {
        (p, t.model)
        for alias in table(ctx.settings).values()
        for p, t in alias.targets.items()
        if p in ctx.providers and ctx.settings.providers[p].keys and (p, t.model) not in checked
    }
    if not wanted:
        return []

    def run() -> list[Check]:
        found = _look_up(ctx, wanted)  # one update, read only after phase one: no lock needed
        ctx.prefetched.update({(_PREFETCH, side): gone for side, gone in found.items()})
        return []

    return [Probe("aliases.prefetch", "aliases", None, "aliases", run=run)]


def probes(ctx: DoctorContext) -> list[Probe]:
    """A late source (genctl.doctor.LATE_SOURCES): it reads the phase-one checks in `ctx.checks`."""
    template = Probe("aliases", "aliases", None, "aliases")
    return [replace(template, run=partial(check_aliases, ctx, template))]


def check_aliases(ctx: DoctorContext, probe: Probe) -> list[Check]:

    providers = {p: _provider(ctx, p) for p in registry.NAMES}
    aliases = table(ctx.settings)
    missing = _missing_models(ctx, aliases, providers)
    found: dict[str, dict[str, Any]] = {}
    groups: dict[tuple[str, ...], list[str]] = {}
    for alias in aliases.values():
        sides = {p: _model(ctx, p, t.model, providers[p], missing) for p, t in alias.targets.items()}
        found[alias.name] = {p: side.to_json(alias.targets[p].model) for p, side in sides.items()}
        serving = tuple(p for p, side in sides.items() if side.status == "ok")
        groups.setdefault(serving, []).append(alias.name)
    why = {p: side.code for p, side in providers.items() if side.status == "fail"}
    details = {"aliases": found, "providers": {p: side.status for p, side in providers.items()}}
    checks = [probe.check(_finding(groups, why, details))]
    if missing:
        checks.append(probe.check(_unknown_models(aliases, missing), aspect="models"))
    if (fallback := _fallback(ctx, providers)) is not None:
        checks.append(probe.check(fallback, aspect="fallback", subject="[defaults] fallback"))
    return checks


def _provider(ctx: DoctorContext, provider: str) -> _Side:
    keys = ctx.settings.providers[provider].keys
    if not keys:
        return _Side("fail", "key.missing")
    if provider not in ctx.providers:
        return _Side("skip")
    # The URL a generation's submit goes to: when it cannot be reached, the provider cannot serve anything.
    reach = ctx.check(f"connectivity.{provider}.{registry.info(provider).submit_url}")
    if reach is not None and reach.finding.status == "fail":
        return _Side("fail", reach.finding.code)
    verdicts = [c.finding for k in keys if (c := ctx.check(f"keys.{provider}.{k.label}")) is not None]
    if any(f.status in ("ok", "warn") for f in verdicts):  # one working key is enough
        return _Side("ok")
    failed = next((f for f in verdicts if f.status == "fail"), None)
    return _Side("fail", failed.code) if failed is not None else _Side("skip")


def _model(
    ctx: DoctorContext, provider: str, model: str, side: _Side, missing: set[tuple[str, str]]
) -> _Side:
    """The provider's side, unless its catalogue lacks the model, or the model itself was checked and
    failed (-m, or the config's models)."""
    checked = ctx.check(f"models.{provider}.{model}")
    if side.status == "ok" and (provider, model) in missing:
        return _Side("fail", "model.not_found")
    if side.status == "ok" and checked is not None and checked.finding.status == "fail":
        return _Side("fail", checked.finding.code)
    return side


def _missing_models(
    ctx: DoctorContext, aliases: dict[str, Alias], providers: dict[str, _Side]
) -> set[tuple[str, str]]:
    """(provider, model) of every alias side whose provider's catalogue has no such model. Only providers
    that can serve are asked; a look-up that fails (or offline, with nothing cached) proves nothing."""
    wanted = {
        (p, t.model)
        for alias in aliases.values()
        for p, t in alias.targets.items()
        if providers[p].status == "ok" and ctx.check(f"models.{p}.{t.model}") is None
    }

    found = {
        side: ctx.prefetched[(_PREFETCH, side)] for side in wanted if (_PREFETCH, side) in ctx.prefetched
    }
    found |= _look_up(ctx, wanted - found.keys())
    return {side for side, gone in found.items() if gone}


def _look_up(ctx: DoctorContext, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """Whether each (provider, model) is absent from its provider's catalogue, asked at once."""
    if not wanted:
        return {}

    def absent(side: tuple[str, str]) -> bool:
        provider, model = side
        keys = ctx.keys(provider)
        try:
            return ctx.catalog(provider, keys[0] if keys else None).find(model, provider) is None
        except (GenctlError, NotCached):
            return False

    with ThreadPoolExecutor(max_workers=max(1, min(len(wanted), MAX_LOOKUPS))) as pool:
        return dict(zip(sorted(wanted), pool.map(deadline.carried(absent), sorted(wanted)), strict=True))


def _unknown_models(aliases: dict[str, Alias], missing: set[tuple[str, str]]) -> Finding:
    """A warning naming each alias whose model its provider does not have (`-m ALIAS` would fail there)."""
    bad = [
        (alias.name, p, t.model)
        for alias in aliases.values()
        for p, t in alias.targets.items()
        if (p, t.model) in missing
    ]
    listed = "; ".join(f"{name}: {registry.label(p)} has no {model}" for name, p, model in bad)
    first_name, first_provider, _ = bad[0]
    fix = (
        f'Map it to a model that exists in the config: [aliases."{first_name}"] {first_provider} = '
        f'"owner/model" (`genctl models QUERY` finds one), or use the other provider.'
    )
    details = {"missing": [{"alias": n, "provider": p, "model": m} for n, p, m in bad]}
    what = (
        "1 alias model is not in its provider's catalogue"
        if len(bad) == 1
        else f"{len(bad)} alias models are not in their providers' catalogues"
    )
    return Finding("model.not_found", "warn", f"{what}: {listed}", fix, details)


def _finding(
    groups: dict[tuple[str, ...], list[str]], why: dict[str, str], details: dict[str, Any]
) -> Finding:
    """`all 12 aliases can run on fal.ai and Replicate`, or by group: `on fal.ai and Replicate: a, b; on
    fal.ai: mine (Replicate: key.locked)`; per alias and provider in the details."""
    failing = "; ".join(f"{registry.label(p)}: {code}" for p, code in why.items())
    if not any(serving for serving in groups):
        if not why:  # nothing known: offline, or the providers were not probed
            return diagnose.unchecked(
                "key.invalid", "which providers can serve each alias was not checked", **details
            )
        message = f"no provider can serve an alias now ({failing})"
        return diagnose.skipped(next(iter(why.values())), message, "Fix the checks above.", **details)
    note = f" ({failing})" if failing else ""
    if len(groups) == 1:
        [(serving, names)] = groups.items()
        return diagnose.ok(f"all {len(names)} aliases can run on {_on(serving)}{note}", **details)
    parts = [
        f"on {_on(serving)}: {', '.join(names)}" for serving, names in sorted(groups.items(), key=_widest)
    ]
    return diagnose.ok("; ".join(parts) + note, **details)


def _on(serving: tuple[str, ...]) -> str:
    return " and ".join(registry.label(p) for p in serving) if serving else "no provider now"


def _widest(group: tuple[tuple[str, ...], list[str]]) -> int:
    return -len(group[0])


def _fallback(ctx: DoctorContext, providers: dict[str, _Side]) -> Finding | None:
    """A warning when `[defaults] fallback` names a provider that cannot serve: that fallback cannot be."""
    order = ctx.settings.fallback or ()
    broken = [p for p in order if providers[p].status == "fail"]
    if len(order) < 2 or not broken:
        return None
    listed = ", ".join(f"{registry.label(p)} ({providers[p].code})" for p in broken)
    return Finding(
        providers[broken[0]].code,
        "warn",
        f"fallback {' → '.join(map(registry.label, order))} is configured, but {listed} cannot serve now",
        "Fix that provider's keys (checks above), or drop it from [defaults] fallback.",
        {"fallback": list(order), "cannot_serve": broken},
    )
