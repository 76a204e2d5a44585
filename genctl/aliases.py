"""Cross-provider model aliases: the built-in table, `[aliases]` from the config, and `-m NAME` resolution.

An alias names one model on both providers (`flux-schnell` is `fal-ai/flux/schnell` on fal.ai and
`black-forest-labs/flux-schnell` on Replicate), with an optional parameter map per provider for inputs
whose name differs there. `routes()` turns a request's model and provider into the providers it can run
on, in order of preference; genctl.fallback decides how far down that list a generation may go.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genctl.errors import error
from genctl.providers import registry
from genctl.settings import Settings, Target, is_alias_name

PROVIDERS = registry.NAMES
DEFAULT_ALIAS = "flux-schnell"  # the model of `genctl generate` without -m or [defaults] image_model


@dataclass(frozen=True)
class Alias:
    """One model under one name on several providers."""

    name: str
    targets: Mapping[str, Target]  # provider -> its side; only providers that have the model
    source: str = "built-in"  # "built-in", "config", or "built-in, config" when the config changed it

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **{p: (self.targets[p].model if p in self.targets else None) for p in PROVIDERS},
            "params": {p: dict(t.params) for p, t in self.targets.items() if t.params},
            "source": self.source,
        }


@dataclass(frozen=True)
class Route:
    """One provider a generation can run on: the model id there, and the alias that led to it (if any)."""

    provider: str
    model: str
    alias: Alias | None = None  # None: the id was given as is, so its inputs are sent as written

    @property
    def renames(self) -> Mapping[str, str]:
        return self.alias.targets[self.provider].params if self.alias is not None else {}


def _builtin(name: str, fal: str, replicate: str, *, renames: Mapping[str, str] | None = None) -> Alias:
    """A built-in alias; `renames` is the Replicate side's parameter map."""
    return Alias(
        name,
        {registry.FAL.name: Target(fal), registry.REPLICATE.name: Target(replicate, dict(renames or {}))},
    )


# Every id below is a real model: the fal ids are in fal-js's generated endpoint list (reference/fal-api.md
# §6.1); each Replicate id cites its evidence. The sandbox emulates every side (genctl/sandbox/catalog_*.py,
# tests/test_aliases_catalogue.py), with the input names its evidence shows; where an input's name differs
# between the providers, the alias's parameter map translates it.
BUILTIN: dict[str, Alias] = {
    a.name: a
    for a in (
        # black-forest-labs/flux-schnell: third-party copies of its schema citing replicate.com's page
        # (docs.yutoai.net, api.core.today) and example predictions of it (pinkyapi.apidog.io)
        _builtin("flux-schnell", "fal-ai/flux/schnell", "black-forest-labs/flux-schnell"),
        # black-forest-labs/flux-dev: third-party copies of its schema citing replicate.com's page
        # (docs.yutoai.net, cinemasetfree.com)
        _builtin("flux-dev", "fal-ai/flux/dev", "black-forest-labs/flux-dev"),
        # replicate.com/black-forest-labs/flux-1.1-pro/versions/96ccd0e7…/api (model page)
        _builtin("flux-1.1-pro", "fal-ai/flux-pro/v1.1", "black-forest-labs/flux-1.1-pro"),
        # replicate.com/black-forest-labs/flux-1.1-pro-ultra (cited as the official docs by third-party
        # copies of its schema: docs.kkiai.com, docs.yutoai.net); public code calls it too
        _builtin("flux-1.1-pro-ultra", "fal-ai/flux-pro/v1.1-ultra", "black-forest-labs/flux-1.1-pro-ultra"),
        # replicate.com/black-forest-labs/flux-kontext-pro (third-party copies of its schema:
        # api.core.today, docs.kkiai.com). fal takes the picture to edit as image_url, Replicate as
        # input_image (both schemas show it).
        _builtin(
            "flux-kontext-pro",
            "fal-ai/flux-pro/kontext",
            "black-forest-labs/flux-kontext-pro",
            renames={"image_url": "input_image"},
        ),
        # SDXL is a community model on Replicate: it runs only at a version (this one is in the recorded
        # exchanges, recordings/replicate-python-cassettes/test_predictions_cancel[False].yaml).
        _builtin(
            "sdxl",
            "fal-ai/fast-sdxl",
            "stability-ai/sdxl:39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b",
            renames={"guidance": "guidance_scale"},
        ),
        # replicate.com/recraft-ai/recraft-v3 (cited by third-party copies of its schema: docs.kkiai.com,
        # v98store.com); public code runs it with replicate.run("recraft-ai/recraft-v3", …)
        _builtin("recraft-v3", "fal-ai/recraft/v3/text-to-image", "recraft-ai/recraft-v3"),
        # replicate.com/google/nano-banana/versions/f0a9d34b…/api (model page)
        _builtin("nano-banana", "fal-ai/nano-banana", "google/nano-banana"),
        # replicate.com/minimax/video-01/versions/c8bcc475…/api (model page)
        _builtin("minimax-video-01", "fal-ai/minimax/video-01", "minimax/video-01"),
        # kwaivgi/kling-v2.1-master: public code calling Replicate with it and listing its schema; no
        # replicate.com page at hand (its siblings kwaivgi/kling-v2.0 and kling-v2.1 have pages)
        _builtin(
            "kling-2.1-master", "fal-ai/kling-video/v2.1/master/text-to-video", "kwaivgi/kling-v2.1-master"
        ),
        # replicate.com/google/veo-3.1/versions/ed5b1767…/api (model page)
        _builtin("veo-3.1", "fal-ai/veo3.1", "google/veo-3.1"),
        # google/veo-3.1-fast: public code calling Replicate with it, and a third-party copy of its schema
        # (api.core.today, "Provider: replicate"); no replicate.com page at hand
        _builtin("veo-3.1-fast", "fal-ai/veo3.1/fast", "google/veo-3.1-fast"),
    )
}


def table(settings: Settings) -> dict[str, Alias]:
    """The aliases in effect: the built-in table with the config's `[aliases]` laid over it, by name."""
    return merge(BUILTIN, settings.aliases)


def merge(
    base: Mapping[str, Alias], overrides: Mapping[str, Mapping[str, Target | None]]
) -> dict[str, Alias]:
    """`base` with each override applied per provider: a Target replaces that side, None removes it."""
    merged = dict(base)
    for name, sides in overrides.items():
        old = merged.get(name)
        targets = dict(old.targets) if old is not None else {}
        for provider, target in sides.items():
            if target is None:
                targets.pop(provider, None)
            else:
                targets[provider] = target
        ordered = {p: targets[p] for p in PROVIDERS if p in targets}
        if not ordered:
            merged.pop(name, None)
            continue
        merged[name] = Alias(name, ordered, "config" if old is None else f"{old.source}, config")
    return merged


def reverse(model: str, provider: str, aliases: Mapping[str, Alias]) -> Alias | None:
    """The alias whose `provider` side is `model` (a Replicate version does not matter), if any. When
    aliases disagree on what the model is elsewhere (a config alias reusing an id), none: no guessing."""
    wanted = _base(model)
    found = [
        a for a in aliases.values() if provider in a.targets and _base(a.targets[provider].model) == wanted
    ]
    elsewhere = {tuple((p, _base(t.model)) for p, t in a.targets.items()) for a in found}
    return found[0] if len(elsewhere) == 1 else None


def _base(model: str) -> str:
    return model.strip().strip("/").split(":")[0].lower()


def preference(settings: Settings) -> list[str]:
    """Providers in order of preference: `[defaults] fallback`, then `[defaults] provider`, then fal."""
    first = settings.provider or registry.DEFAULT
    return list(dict.fromkeys([*(settings.fallback or ()), first, *PROVIDERS]))


def routes(settings: Settings, *, model: str | None, provider: str | None) -> list[Route]:
    """Every provider the model can run on, best first; just one when `provider` pins it.

    An alias runs on each provider it names (a provider without a key goes last: it could only fail);
    a model id runs on its own provider first, then on the other side of the alias that maps it, if any.
    """
    if provider is not None and provider not in PROVIDERS:
        raise error(
            "usage.invalid",
            f"Unknown provider {provider!r}.",
            fix="Use " + " or ".join(f"--provider {p}" for p in PROVIDERS) + ".",
        )
    aliases = table(settings)
    name = (model or settings.models.get("image") or DEFAULT_ALIAS).strip()
    alias = aliases.get(name)
    if alias is not None:
        if provider is not None:
            return [Route(provider, _side(alias, provider).model, alias)]
        order = [p for p in preference(settings) if p in alias.targets]
        order.sort(key=lambda p: not _has_keys(settings, p))  # stable: providers with a key first
        return [Route(p, alias.targets[p].model, alias) for p in order]
    if is_alias_name(name):
        _check_near_alias(name, aliases)
    first = provider or registry.detect(name) or settings.provider or registry.DEFAULT
    found = [Route(first, name)]
    mapped = reverse(name, first, aliases) if provider is None else None
    if mapped is not None:
        found += [
            Route(p, mapped.targets[p].model, mapped)
            for p in preference(settings)
            if p != first and p in mapped.targets
        ]
    return found


def _has_keys(settings: Settings, provider: str) -> bool:
    found = settings.providers.get(provider)
    return found is not None and bool(found.keys)


def _side(alias: Alias, provider: str) -> Target:
    target = alias.targets.get(provider)
    if target is None:
        has = " and ".join(registry.label(p) for p in alias.targets)
        raise error(
            "model.not_found",
            f"The alias {alias.name} has no {registry.label(provider)} model (it runs on {has}).",
            fix=f'Drop --provider {provider}, or map it in the config: [aliases."{alias.name}"] '
            f'{provider} = "owner/model".',
            provider=provider,
        )
    return target


def _check_near_alias(name: str, aliases: Mapping[str, Alias]) -> None:
    """model.not_found for a name that can only be a misspelt alias (every model id has a `/`)."""
    near = difflib.get_close_matches(name, list(aliases), n=1, cutoff=0.75)
    if near:
        raise error(
            "model.not_found",
            f"{name} is neither a model id (owner/name) nor an alias — did you mean {near[0]}?",
            fix=f"Use -m {near[0]}; `genctl models --aliases` lists every alias.",
        )
