"""The pre-flight of `genctl generate`: catch a wrong model or input before a request is paid for.

`check_name` runs before anything (no key, no network); `check` runs after `plan()`: it looks the model up
in the catalogue (cached, see genctl.catalog), stops a text model (model.wrong_kind) or a versionless
Replicate community model (model.needs_version), and checks the params — `[models."<id>"]` defaults
included — against the model's input schema (payload.invalid, exit 5). When the schema cannot be had
(offline, nothing cached, a private fal app) the request goes out unchecked, with a notice.
`explain` adds catalogue suggestions to a model.* error the provider answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from genctl.catalog import ONE_TRY, Catalog, NotCached, suggest
from genctl.catalog.schema_check import check_params, payload_error
from genctl.errors import GenctlError, ModelError
from genctl.providers import registry

if TYPE_CHECKING:
    import httpx

    from genctl.catalog import Catalog
    from genctl.plan import GenerationRequest, Plan
    from genctl.providers.schema import InputSchema
    from genctl.settings import Settings
    from genctl.values import Key

Notice = Callable[[str], None]
# Rewrites the params for the model before they are checked (genctl.translate), given its schema or None.
Adapt = Callable[["InputSchema | None", dict[str, Any]], dict[str, Any]]
log = logging.getLogger("genctl.catalog.preflight")


def check_name(model: str | None) -> None:
    """model.wrong_kind for an id that names a text model (`gpt-4o-mini`); sends nothing."""
    if model and suggest.looks_like_text_model(model):
        raise suggest.wrong_kind(model.strip())


def _catalog(
    settings: Settings,
    *,
    client: httpx.Client | None,
    keys: Mapping[str, Key | None],
    cache_only: bool,
    on_notice: Notice | None,
) -> Catalog:

    # One try: the schema is a convenience; a generation must not wait for the catalogue's retries.
    return Catalog(
        settings, client=client, keys=keys, cache_only=cache_only, policy=ONE_TRY, on_notice=on_notice
    )


def _keys(settings: Settings, provider: str, key: Key) -> dict[str, Key | None]:
    others = {p: next(iter(settings.providers[p].keys), None) for p in registry.others(provider)}
    return {provider: key, **others}


def check(
    settings: Settings,
    request: GenerationRequest,
    resolved: Plan,
    *,
    client: httpx.Client | None = None,
    cache_only: bool = False,
    on_notice: Notice | None = None,
    adapt: Adapt | None = None,
) -> Plan:
    """The plan with its params coerced to the schema's types; raises what the provider would answer.

    `cache_only` (for --dry-run, which sends nothing) checks against a cached schema only. `adapt`, when
    given, rewrites the params first, with the schema when there is one (else None).
    """

    notify = on_notice or (lambda message: None)
    provider, model = resolved.provider.name, resolved.model
    keys = _keys(settings, provider, resolved.key)
    catalog = _catalog(settings, client=client, keys=keys, cache_only=cache_only, on_notice=on_notice)
    try:
        detail = catalog.find(model, provider)
    except NotCached:
        notify(f"Input not checked: no cached schema of {model} (`genctl models show {model}` caches it).")
        return _adapted(resolved, adapt, None)
    except ModelError:
        raise  # a version that does not exist, an id that cannot be one
    except GenctlError as err:
        notify(f"Input not checked: the schema of {model} could not be fetched ({err.code}: {err.message}).")
        return _adapted(resolved, adapt, None)
    if detail is None:
        if registry.info(provider).private_models:  # not in the public catalogue: let the provider answer
            notify(f"{model} is not in {registry.label(provider)}'s public catalogue: sending it unchecked.")
        return _adapted(resolved, adapt, None)
    if detail.info.kind == "text":
        raise suggest.wrong_kind(model, found=detail.info)
    if detail.info.is_official is False and ":" not in model:
        raise suggest.needs_version(model, detail.info.latest_version, provider=provider)
    if detail.schema is None:
        notify(f"Input not checked: {model} publishes no input schema.")
        return _adapted(resolved, adapt, None)
    resolved = _adapted(resolved, adapt, detail.schema)
    resolved, prompt_name = _prompt_field(resolved, request, detail.schema)
    file_keys = frozenset(resolved.input_keys)
    raw, sources = _origins(settings, request, model, file_keys)
    if prompt_name != "prompt" and "prompt" in sources:
        sources[prompt_name] = sources.pop("prompt")
    params, problems = check_params(
        detail.schema, resolved.params, raw=raw, file_keys=file_keys, sources=sources
    )
    if problems:
        raise payload_error(model, provider, problems)
    return replace(resolved, params=params)


# Where a model without a `prompt` input takes its text (text-to-speech: ElevenLabs, Kokoro, MiniMax).
_TEXT_FIELDS = ("text",)


def _prompt_field(resolved: Plan, request: GenerationRequest, schema: InputSchema) -> tuple[Plan, str]:
    """The PROMPT argument moved to the model's text field when the schema has no `prompt` but one of
    _TEXT_FIELDS (a TTS model), unless `-p` already set that field; and the name the prompt went to."""
    names = schema.names
    if request.prompt is None or "prompt" in names or "prompt" not in resolved.params:
        return resolved, "prompt"
    target = next((name for name in _TEXT_FIELDS if name in names and name not in resolved.params), None)
    if target is None:
        return resolved, "prompt"
    params = {(target if name == "prompt" else name): value for name, value in resolved.params.items()}
    return replace(resolved, params=params), target


def _adapted(resolved: Plan, adapt: Adapt | None, schema: InputSchema | None) -> Plan:
    return resolved if adapt is None else replace(resolved, params=adapt(schema, resolved.params))


def _origins(
    settings: Settings, request: GenerationRequest, model: str, file_keys: frozenset[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(the `-p` text of each value, where non-`-p` values came from) for messages."""
    where = f" in {settings.config_file}" if settings.config_file else ""
    sources = {name: f'[models."{model}"]{where}' for name in settings.model_params.get(model, {})}
    if request.prompt is not None:
        sources["prompt"] = "the PROMPT argument"
    raw: dict[str, str] = {}
    for item in request.params:
        name, _, text = item.partition("=")
        json_value = name.endswith(":")
        name = name.removesuffix(":")
        sources.pop(name, None)
        raw.pop(name, None)
        if not json_value:  # KEY:=JSON has no text form to fall back on
            raw[name] = text
    for name in file_keys:
        sources.pop(name, None)
    return raw, sources


def explain(
    err: GenctlError,
    *,
    settings: Settings,
    model: str,
    provider: str,
    key: Key,
    client: httpx.Client,
) -> GenctlError:
    """A provider's model.not_found / model.needs_version with catalogue suggestions; never fails itself."""

    try:
        catalog = _catalog(
            settings, client=client, keys=_keys(settings, provider, key), cache_only=False, on_notice=None
        )
        if err.code == "model.needs_version":
            detail = catalog.find(model.split(":")[0], provider)
            latest = detail.info.latest_version if detail else None
            fix = suggest.needs_version(model, latest, provider=provider).fix
            return suggest.with_fix(err, fix, latest_version=latest)
        if err.code == "model.not_found":
            return not_found(err, model=model, provider=provider, catalog=catalog)
    except (GenctlError, NotCached) as failure:
        log.debug("no suggestions for %s: %s", model, failure)
    return err


def not_found(err: GenctlError, *, model: str, provider: str, catalog: Catalog) -> GenctlError:
    """model.not_found with the closest ids of `provider` and the same model on the other provider."""
    hint = " ".join(suggest.tokens(model))
    exact = catalog.near_ids(provider, model)
    ranked = suggest.rank(model, catalog.candidates(provider, hint), exact=exact)
    elsewhere = suggest.same_model(
        model,
        [m for other in registry.others(provider) for m in catalog.candidates(other, hint, whole=False)],
    )
    if not ranked and not elsewhere:
        return err
    fix = suggest.not_found_fix(model, ranked, elsewhere, err.fix)
    extra: dict[str, Any] = {"suggestions": suggest.suggestions_json(ranked, elsewhere)}
    return suggest.with_fix(err, fix, **extra)
