"""`genctl models [QUERY]`: both providers' catalogues in one table; `genctl models show MODEL`: one model."""

from __future__ import annotations

import json
import shlex
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from genctl.cli import common
from genctl.cli.common import JsonOpt, QuietOpt
from genctl.cli.completion import complete_model
from genctl.cli.output import out
from genctl.cli.sandbox_run import SandboxOpt, settings_for
from genctl.errors import error, usage
from genctl.providers import registry

if TYPE_CHECKING:
    from genctl.catalog import Catalog, ModelDetail
    from genctl.providers.base import ModelInfo
    from genctl.providers.schema import Field


class _QueryOrCommand(TyperGroup):
    """`genctl models [QUERY] [OPTIONS]` means `genctl models list …`: a first word that names no
    subcommand is the query, so `genctl models flux` and `genctl models show ID` both work."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click's Context (vendored by Typer)
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["list", *args]
        return super().parse_args(ctx, args)


models_app = typer.Typer(
    cls=_QueryOrCommand,
    help="""Find models on fal.ai and Replicate and read their inputs. `genctl models [QUERY]` is short
    for `genctl models list [QUERY]`.

    Examples:

        genctl models flux

        genctl models show fal-ai/flux/dev
    """,
    no_args_is_help=False,
    rich_markup_mode=None,
)

ProviderOpt = common.ProviderOpt
RefreshOpt = Annotated[
    bool, typer.Option("--refresh", help="Fetch again now instead of using the cached catalogue.")
]


def _provider(name: str | None) -> str | None:
    if name is not None and name not in registry.NAMES:
        choices = " or ".join(f"--provider {p}" for p in registry.NAMES)
        raise usage(f"Unknown provider {name!r}.", fix=f"Use {choices}.")
    return name


def _open_catalog(stack: ExitStack, *, refresh: bool, sandbox: bool = False) -> Catalog:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.catalog import Catalog
    from genctl.http import make_client

    settings = settings_for(stack, sandbox=sandbox)
    providers = settings.providers.values()
    client = stack.enter_context(
        make_client(
            timeout=max(p.timeout for p in providers),
            connect_timeout=max(p.connect_timeout for p in providers),
        )
    )
    bars = stack.enter_context(out.progress())
    return Catalog(settings, client=client, refresh=refresh, on_notice=out.info, on_progress=bars.update)


@models_app.command("list")
def list_command(
    query: Annotated[
        str | None,
        typer.Argument(
            help="Words to search for, e.g. flux or 'text to speech'.", show_default=False, metavar="QUERY"
        ),
    ] = None,
    provider: ProviderOpt = None,
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="text-to-image, image-to-video, text-to-audio, … (as the provider names it).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show at most N models; 0 shows all.", min=0)] = 50,
    json_: JsonOpt = False,
    refresh: RefreshOpt = False,
    quiet: QuietOpt = False,
    aliases: Annotated[
        bool, typer.Option("--aliases", help="List the model aliases (one name, both providers' ids).")
    ] = False,
    sandbox: SandboxOpt = False,
) -> None:
    """List or search the models of both providers in one table (id, provider, category, name, price).

    Examples:

        genctl models

        genctl models flux --limit 10

        genctl models --category text-to-video --limit 0

        genctl models --provider replicate --json

        genctl models --aliases
    """
    out.configure(json_mode=json_, quiet=quiet)
    chosen = _provider(provider)
    if aliases:
        _print_aliases(query, chosen, json_mode=json_)
        return
    with ExitStack() as stack:
        catalog = _open_catalog(stack, refresh=refresh, sandbox=sandbox)
        listing = catalog.search(query=query, provider=chosen, category=category, limit=limit or None)
        if category and not listing.models:
            _check_category(catalog, category)
    if json_:
        out.json(
            {
                "ok": True,
                "query": query,
                "provider": chosen,
                "category": category,
                "count": len(listing.models),
                "total": listing.total,
                "models": [m.to_json() for m in listing.models],
            }
        )
        return
    if not listing.models:
        out.info("No model matches." + (" Try fewer words, or another --category." if query else ""))
        return
    out.table(
        ["id", "provider", "category", "name", "description", "price"],
        [
            [m.id, m.provider, m.category or "", m.display_name, _short(m.description, 60), _price(m)]
            for m in listing.models
        ],
    )
    if listing.total > len(listing.models):
        out.info(f"{len(listing.models)} of {listing.total} models shown; --limit 0 shows all.")
    for info in registry.PROVIDERS.values():
        unpriced = any(m.provider == info.name and m.price is None for m in listing.models)
        if info.publishes_prices and unpriced and catalog.keys.get(info.name) is None:
            out.info(f"{info.label} prices show with a key ({info.key_env}).")


def _print_aliases(query: str | None, provider: str | None, *, json_mode: bool) -> None:
    """The aliases in effect (built-in and config), those naming QUERY or on --provider; no network."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.aliases import table
    from genctl.cli.config import settings_for_cli

    found = [
        a.to_json()
        for a in table(settings_for_cli()).values()
        if (not query or query.lower() in json.dumps(a.to_json()).lower())
        and (not provider or provider in a.targets)
    ]
    if json_mode:
        out.json({"ok": True, "query": query, "count": len(found), "aliases": found})
        return
    if not found:
        out.info("No alias matches.")
        return
    rows = []
    for x in found:
        params = ", ".join(f"{p}: {a} → {b}" for p, names in x["params"].items() for a, b in names.items())
        rows.append([x["name"], *(x[p] or "" for p in registry.NAMES), params, x["source"]])
    names = ["alias", *map(registry.label, registry.NAMES)]
    out.table([*names, "params", "source"], rows, keep=range(len(names)))


def _check_category(catalog: Catalog, category: str) -> None:
    """usage.invalid for a category no provider has, with the known ones (collected at run time)."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import difflib

    known = catalog.categories()
    if category in known or not known:
        return
    near = difflib.get_close_matches(category, known, n=1)
    hint = f" — did you mean {near[0]}?" if near else ""
    raise usage(f"No provider has the category {category!r}{hint}", fix=f"Categories: {', '.join(known)}.")


@models_app.command("show")
def show_command(
    model: Annotated[
        str,
        typer.Argument(
            help="Model id: fal-ai/flux/dev, owner/name[:version].",
            metavar="MODEL",
            autocompletion=complete_model,
        ),
    ],
    provider: ProviderOpt = None,
    json_: JsonOpt = False,
    refresh: RefreshOpt = False,
    quiet: QuietOpt = False,
    sandbox: SandboxOpt = False,
) -> None:
    """One model: what it is, its price where known, its inputs (in the model's order), and how to run it.

    Examples:

        genctl models show fal-ai/flux/dev

        genctl models show stability-ai/sdxl --json

        genctl models show black-forest-labs/flux-dev --sandbox
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.catalog import preflight, suggest

    out.configure(json_mode=json_, quiet=quiet)
    preflight.check_name(model)
    with ExitStack() as stack:
        catalog = _open_catalog(stack, refresh=refresh, sandbox=sandbox)
        name = _provider(provider) or registry.detect(model) or catalog.settings.provider or registry.DEFAULT
        detail = catalog.find(model, name)
        if detail is None:
            words = " ".join(suggest.tokens(model)[:3])
            missing = error(
                "model.not_found",
                f"{registry.label(name)} has no model {model!r}.",
                fix=f"Check the id; `genctl models {words}` searches both providers.",
                provider=name,
            )
            raise preflight.not_found(missing, model=model, provider=name, catalog=catalog)
        info = detail.info
        info = _with_price(info, catalog.prices(name, [info.id]))
        hint = " ".join(suggest.tokens(info.id))
        nearby = [m for other in registry.others(name) for m in catalog.candidates(other, hint, whole=False)]
        also = suggest.same_model(info.id, nearby)
    example = example_command(detail, provider=name)
    if json_:
        out.json(
            {
                "ok": True,
                "model": info.to_json(),
                "version": detail.version,
                "input": detail.schema.to_json() if detail.schema else None,
                "also_on": [{"provider": m.provider, "id": m.id} for m in also],
                "example": example,
            }
        )
        return
    _print_detail(info, detail, also)
    out.result("")
    out.result("Example:")
    out.result(example)


def _print_detail(info: ModelInfo, detail: ModelDetail, also: list[ModelInfo]) -> None:
    out.result(f"{info.id}  ({registry.label(info.provider)})")
    lines = [
        ("Name", info.display_name if info.display_name != info.id else ""),
        ("Category", info.category or ""),
        ("Description", info.description),
        ("Price", info.price.text() if info.price else ""),
        ("Version", f"{detail.version}" if detail.version else ""),
        (
            "Official",
            "" if info.is_official is None else "yes" if info.is_official else "no: runs only at a version",
        ),
        ("Also on", ", ".join(f"{registry.label(m.provider)} {m.id}" for m in also)),
        ("Page", info.url or ""),
    ]
    for label, value in lines:
        if value:
            out.prose(f"{label}: {value}")
    if info.kind == "text":
        out.warn(f"{info.id} is a language model: genctl generate refuses it (model.wrong_kind).")
    if detail.schema is None:
        out.info("No input schema is available for this model.")
        return
    out.result("")
    out.table(
        ["name", "type", "required", "default", "values", "range", "description"],
        [
            [
                f.name,
                f.type + (" (URL; -i for a file)" if f.is_file else ""),
                "yes" if f.required else "",
                _value(f.default) if f.has_default else "",
                ", ".join(_value(v) for v in f.enum),
                _range(f),
                f.description,
            ]
            for f in detail.schema.fields
        ],
    )


def example_command(detail: ModelDetail, *, provider: str) -> str:
    """A ready-to-run `genctl generate` line: the prompt, the model, and every other required input."""
    info = detail.info
    ref = info.id
    if info.is_official is False and detail.version:
        ref = f"{info.id}:{detail.version}"
    parts = ["genctl", "generate"]
    fields = detail.schema.fields if detail.schema else ()
    prompt = next((f for f in fields if f.name == "prompt"), None)
    if prompt is not None or detail.schema is None:  # without a schema, a prompt is the best guess
        parts.append(shlex.quote(str((_example(prompt) if prompt else None) or "a fox in the snow at dawn")))
    parts += ["-m", shlex.quote(ref)]
    if registry.detect(ref) != provider:
        parts += ["--provider", provider]
    for field in fields:
        if not field.required or field.name == "prompt":
            continue
        if field.is_file:
            parts += ["-i", shlex.quote(f"{field.name}=./input.png")]
        else:
            example = _example(field)
            text = example if isinstance(example, str) else json.dumps(example)
            parts += ["-p", shlex.quote(f"{field.name}={text if example is not None else '…'}")]
    return " ".join(parts)


def _example(field: Field) -> Any:
    examples = field.schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if field.has_default and field.default not in (None, ""):
        return field.default
    if field.enum:
        return field.enum[0]
    if field.minimum is not None:
        return field.minimum
    return "Hello from genctl" if "string" in field.type else None


def _with_price(info: ModelInfo, prices: dict[str, Any]) -> ModelInfo:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from dataclasses import replace

    return replace(info, price=prices.get(info.id, info.price))


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _range(field: Field) -> str:
    lo, hi = field.minimum, field.maximum
    if lo is not None and hi is not None:
        return f"{_value(lo)}–{_value(hi)}"
    if lo is not None:
        return f">= {_value(lo)}"
    if hi is not None:
        return f"<= {_value(hi)}"
    return ""


def _price(model: ModelInfo) -> str:
    return model.price.text() if model.price else ""


def _short(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"
