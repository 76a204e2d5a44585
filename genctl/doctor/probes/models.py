"""Doctor's model checks, through the catalogue and pre-flight of `genctl generate`: the model exists (else
model.not_found with did-you-mean), generates media (model.wrong_kind), runs without a version
(model.needs_version), its input schema can be had, the config's `[models."…"]` defaults pass it
(payload.invalid), and its price where the provider publishes one."""

from __future__ import annotations

from concurrent.futures import Future, wait
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from genctl import diagnose
from genctl.aliases import table
from genctl.catalog import ONE_TRY, NotCached, preflight, suggest
from genctl.catalog.schema_check import check_params, payload_error
from genctl.diagnose import Finding
from genctl.doctor.probes import Check, DoctorContext, Probe
from genctl.errors import CredentialError, GenctlError, error
from genctl.keys.check import in_background
from genctl.providers import registry

if TYPE_CHECKING:
    from genctl.catalog import Catalog, ModelDetail
    from genctl.doctor.probes import DoctorOptions
    from genctl.providers.base import Price
    from genctl.settings import Settings
    from genctl.values import Key


@dataclass(frozen=True)
class ModelToCheck:
    model: str
    provider: str
    origin: str  # why it is checked: -m, [defaults] image_model, [models."…"], built-in default


def models_to_check(settings: Settings, options: DoctorOptions) -> list[ModelToCheck]:
    """-m models (only those, when given); else the config's defaults and `[models."…"]` tables, and the
    built-in default of each provider with keys when the config names no image model."""

    flag = options.provider_flag
    chosen: dict[str, ModelToCheck] = {}
    aliases = table(settings)

    def add(model: str, origin: str, *, forced: bool = False) -> None:
        if (alias := aliases.get(model)) is not None:  # an alias: its model on each provider with a key
            keyed = [t for p, t in alias.targets.items() if settings.providers[p].keys]
            for target in keyed or alias.targets.values():
                add(target.model, f"{origin} (alias {model})")
            return
        detected = registry.detect(model)
        if flag and not forced and detected not in (flag, None):
            return
        provider = flag or detected or settings.provider or registry.DEFAULT
        if model not in chosen:
            chosen[model] = ModelToCheck(model, provider, origin)

    if options.models:
        for model in options.models:
            add(model, "-m", forced=True)
        return list(chosen.values())
    for kind, model in settings.models.items():
        add(model, f"[defaults] {kind}_model")
    for model in settings.model_params:
        add(model, f'[models."{model}"]')
    if "image" not in settings.models:
        for provider in options.providers:
            if settings.providers[provider].keys:
                add(registry.info(provider).default_model, "built-in default")
    return list(chosen.values())


def probes(ctx: DoctorContext) -> list[Probe]:
    found: list[Probe] = []
    for item in models_to_check(ctx.settings, ctx.options):
        template = Probe(f"models.{item.provider}.{item.model}", "models", item.provider, item.model)
        found.append(replace(template, run=partial(check_model, ctx, template, item)))
    return found


def check_model(ctx: DoctorContext, probe: Probe, item: ModelToCheck) -> list[Check]:
    # The price does not depend on the look-up: both go out at once (one round trip, not two).
    priced = None if ctx.offline else in_background(partial(_price, ctx, item.model, item.provider))
    try:
        return _check_model(ctx, probe, item, priced)
    finally:
        if priced is not None:
            wait([priced])  # ended before doctor may close the client under it


def _check_model(
    ctx: DoctorContext, probe: Probe, item: ModelToCheck, priced: Future[Price | None] | None
) -> list[Check]:
    model, provider = item.model, item.provider
    facts: dict[str, Any] = {"origin": item.origin}
    try:
        preflight.check_name(model)  # a text model's name (gpt-4o-mini) needs no request
        detail, key, catalog = _find(ctx, model, provider)
    except NotCached:
        message = f"not checked ({ctx.why_offline}) and no cached schema of {model}"
        fix = f"Run `genctl models show {model}` once online: doctor --offline then checks against that copy."
        return [probe.check(diagnose.unchecked("model.not_found", message, fix, **facts))]
    except _NoKeyAccepted as refused:
        label = registry.label(provider)
        message = f"not checked: no {label} key was accepted ({refused.err.code}; see the key checks)"
        return [probe.check(diagnose.skipped(refused.err.code, message, refused.err.fix, **facts))]
    except GenctlError as err:
        return [probe.check(diagnose.from_error(err).with_details(**facts))]
    if detail is None:
        return [probe.check(_not_found(ctx, model, provider, key, catalog).with_details(**facts))]
    info = detail.info
    if info.kind == "text":
        return [probe.check(diagnose.from_error(suggest.wrong_kind(model, found=info)).with_details(**facts))]
    if info.is_official is False and ":" not in model:
        versionless = suggest.needs_version(model, info.latest_version, provider=provider)
        return [probe.check(diagnose.from_error(versionless).with_details(**facts))]
    price = info.price
    if price is None and priced is not None:
        try:
            price = priced.result()
        except GenctlError:  # asked with the first key, which was refused: ask with the one accepted
            price = catalog.prices(provider, [model]).get(model)
    facts.update(
        category=info.category,
        kind=info.kind,
        inputs=len(detail.schema.fields) if detail.schema else None,
        version=detail.version,
        price=price.to_json() if price else None,
        url=info.url,
    )
    parts = [info.category or info.kind or "media model"]
    parts.append(f"{len(detail.schema.fields)} inputs" if detail.schema else "no input schema published")
    if price is not None:
        parts.append(price.text())
    if info.status == "deprecated":
        parts.append("deprecated")
    checks = [probe.check(diagnose.ok(", ".join(parts), **facts))]
    if (params := _params(ctx, model, provider, detail)) is not None:
        checks.append(probe.check(params, aspect="params"))
    return checks


def _price(ctx: DoctorContext, model: str, provider: str) -> Price | None:
    keys = ctx.keys(provider)
    return ctx.catalog(provider, keys[0] if keys else None).prices(provider, [model]).get(model)


class _NoKeyAccepted(Exception):
    def __init__(self, err: GenctlError) -> None:
        super().__init__(err.message)
        self.err = err


def _find(ctx: DoctorContext, model: str, provider: str) -> tuple[ModelDetail | None, Key | None, Catalog]:
    """The catalogue entry and schema, asked with each key in turn until one is accepted (a revoked first key
    must not fail every model: the key checks report it)."""
    keys: list[Key | None] = [*ctx.keys(provider)] or [None]
    refused: CredentialError | None = None
    for key in keys:
        catalog = ctx.catalog(provider, key)
        try:
            return catalog.find(model, provider), key, catalog
        except CredentialError as err:
            refused = err
    assert refused is not None
    raise _NoKeyAccepted(refused)


def _not_found(ctx: DoctorContext, model: str, provider: str, key: Key | None, catalog: Catalog) -> Finding:
    """model.not_found in the provider's own words where a free request can get them, with did-you-mean."""

    info = registry.info(provider)
    answer: GenctlError | None = None
    if not ctx.offline and key is not None:
        answer = catalog.sources[provider].own_words(model, key, ONE_TRY)
    confirmed = answer is not None and answer.code == "model.not_found"
    if answer is None or not confirmed:
        answer = error(
            "model.not_found",
            f"{model} is not in {info.label}'s catalogue.",
            fix=f"Check the id at {info.models_page}.",
            provider=provider,
        )
    found = preflight.not_found(answer, model=model, provider=provider, catalog=catalog)
    if confirmed or not info.private_models:
        return diagnose.from_error(found)
    # Only the public catalogue was asked: no free request tells a private endpoint from a wrong id
    # (fal-api.md §8), so that is said as a possibility, and the suggestions stay.
    possibly = error(
        "model.not_found",
        f"{model} is not in {info.label}'s public catalogue: a wrong id, or possibly a private "
        "endpoint of yours.",
        fix=f"{found.fix} If it is your own private endpoint, ignore this.",
        provider=provider,
        details=found.details,
    )
    return diagnose.from_error(possibly, status="warn")


def _params(ctx: DoctorContext, model: str, provider: str, detail: ModelDetail) -> Finding | None:
    """The config's defaults for the model against its schema: the pre-flight's payload.invalid, as
    `genctl generate -m MODEL` would raise it before sending anything."""

    defaults = ctx.settings.model_params.get(model)
    if not defaults:
        return None
    if detail.schema is None:
        message = f"{len(defaults)} configured default(s) not checked: no input schema"
        return diagnose.skipped("payload.invalid", message)
    where = f" in {ctx.settings.config_file}" if ctx.settings.config_file else ""
    sources = {name: f'[models."{model}"]{where}' for name in defaults}
    _, problems = check_params(detail.schema, dict(defaults), sources=sources)
    # The config holds defaults, not a whole input: a required input it leaves out (the prompt) is fine.
    problems = [p for p in problems if p.field.split(".")[0].split("[")[0] in defaults]
    if problems:
        return diagnose.from_error(payload_error(model, provider, problems))
    names = ", ".join(defaults)
    return diagnose.ok(f"configured defaults valid: {names}", params=sorted(defaults))
