"""Inputs translated for the model a generation runs on: the common knobs renamed and converted.

A request written for one provider (`-p image_size=landscape_16_9 -p num_images=2` on fal.ai) must mean
the same on the other (`aspect_ratio: "16:9"`, `num_outputs: 2` on Replicate). The knobs: size (fal's
`image_size` presets or `{width, height}`, `aspect_ratio`, `width` + `height`), number of outputs, seed,
steps, guidance and output format. With the target model's input schema the name and the allowed values
come from it; without one (--no-validate, catalogue unreachable) only what is safe is changed: a fal
`image_size` becomes Replicate's `aspect_ratio`, `width` + `height` become fal's `image_size`, the other
knobs take the provider's usual name. What cannot be expressed is a payload.invalid naming the input, the
provider and what it accepts, raised before anything is sent — never a silent drop. Other inputs pass
through as written (the pre-flight check then judges them against the schema). `translate` is pure
and imports no check: genctl.generation hands `adapter(route)` to the pre-flight, which calls it with
the schema.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from genctl.aliases import Route
from genctl.catalog.schema_check import Problem
from genctl.errors import GenctlError, error
from genctl.providers import registry
from genctl.providers.schema import InputSchema, branches, show, types

# fal's image_size presets and their pixels (fal model pages: "ImageSize | Enum"; sizes as in the sandbox
# catalogue, genctl/sandbox/catalog_fal.py). Dict order matters: square_hd is the 1:1 preset chosen first.
PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
# Knob -> its input names on either provider; each provider's `usual_name` (registry) picks its usual one.
FAMILIES: dict[str, tuple[str, ...]] = {
    "number of outputs": ("num_images", "num_outputs"),
    "seed": ("seed",),
    "steps": ("num_inference_steps",),
    "guidance": ("guidance_scale", "guidance"),
    "output format": ("output_format", "format"),
}
_FORMAT_SYNONYMS = {"jpeg": "jpg", "jpg": "jpeg"}
SIZE_NAMES = ("image_size", "aspect_ratio", "width", "height")
_MEGAPIXEL = 1024 * 1024  # a ratio without pixels becomes about one megapixel, sides multiples of 64


def adapter(route: Route) -> Callable[[InputSchema | None, dict[str, Any]], dict[str, Any]] | None:
    """`translate` for a route reached through an alias; None for a model id given as is (sent as written)."""
    if route.alias is None:
        return None

    def adapt(schema: InputSchema | None, params: dict[str, Any]) -> dict[str, Any]:
        return translate(
            params, provider=route.provider, model=route.model, schema=schema, renames=route.renames
        )

    return adapt


def translate(
    params: Mapping[str, Any],
    *,
    provider: str,
    model: str,
    schema: InputSchema | None,
    renames: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`params` in the names and values `model` on `provider` takes; payload.invalid for what it cannot."""
    target = _Target(provider, model, schema, renames or {})
    problems: list[Problem] = []
    renamed: dict[str, Any] = {}
    for name, value in params.items():
        new = target.renames.get(name, name)
        if new in renamed:
            problems.append(_twice(new, name, value))
        renamed[new] = value
    size = {name: renamed.pop(name) for name in SIZE_NAMES if name in renamed}
    out: dict[str, Any] = {}
    for name, value in renamed.items():
        family = next((f for f, names in FAMILIES.items() if name in names), None)
        if family is None:
            out[name] = value
            continue
        to = target.name_for(family, name)
        if to is None:
            problems.append(Problem(name, value, target.inputs(), f"{name}: it has no {family} input"))
        elif to != name and to in renamed:
            problems.append(_twice(to, name, value))
        else:
            out[to] = target.format_value(to, name, value, problems) if family == "output format" else value
    out.update(_size(size, target, problems))
    if problems:
        raise _error(target, problems)
    return out


@dataclass(frozen=True)
class _Target:
    provider: str
    model: str
    schema: InputSchema | None
    renames: Mapping[str, str]  # the alias's parameter map for this provider

    @property
    def label(self) -> str:
        return f"{self.model} on {registry.label(self.provider)}"

    def has(self, name: str) -> bool:
        return self.schema is not None and self.schema.get(name) is not None

    def inputs(self) -> str:
        names = self.schema.names if self.schema is not None else []
        return "one of " + ", ".join(names) if names else "(unknown)"

    def name_for(self, family: str, given: str) -> str | None:
        """The input for `family`: the schema's, else the alias map's; None when the schema has none."""
        names = FAMILIES[family]
        if self.schema is not None:
            return next((n for n in names if self.has(n)), None)
        mapped = next((self.renames[n] for n in names if n in self.renames), None)
        if mapped is not None:
            return mapped
        # No schema: only another provider's usual name is changed, to this provider's usual name.
        usual = {names[registry.info(p).usual_name] for p in registry.others(self.provider)}
        return names[registry.info(self.provider).usual_name] if given in usual else given

    def enum(self, name: str) -> list[Any] | None:
        """The values `name` accepts, when the schema lists them and allows nothing else."""
        field = self.schema.get(name) if self.schema is not None else None
        if field is None:
            return None
        free = any("string" in types(b) and not b.get("enum") for b in branches(field.schema))
        return None if free or not field.enum else field.enum

    def format_value(self, to: str, given: str, value: Any, problems: list[Problem]) -> Any:
        allowed = self.enum(to)
        synonym = _FORMAT_SYNONYMS.get(str(value).lower())
        if allowed is None:
            if self.schema is None and synonym is not None:  # fal says jpeg, Replicate jpg
                return registry.info(self.provider).image_extension
            return value
        if value in allowed:
            return value
        if synonym in allowed:
            return synonym
        shown = ", ".join(str(v) for v in allowed)
        problems.append(
            Problem(given, value, f"one of {shown}", f"{given}={show(value)}: it accepts {shown}")
        )
        return value


def _twice(name: str, given: str, value: Any) -> Problem:
    message = f"{given}: it is {name} there, which is also given; give it once"
    return Problem(given, value, f"{name} once", message)


# -- size ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Size:
    """A requested size: exact pixels, or only a ratio."""

    name: str  # the input it was given as, for messages
    value: Any
    dims: tuple[int, int] | None
    ratio: tuple[int, int]


def _size(given: dict[str, Any], target: _Target, problems: list[Problem]) -> dict[str, Any]:
    if not given:
        return {}
    styles = {_style(name) for name in given}
    available = _styles(target, styles)
    if styles <= available:
        return given
    native = styles & available
    foreign = styles - available
    if native or len(foreign) > 1:
        for name, value in given.items():
            if _style(name) in foreign:
                others = " and ".join(n for n in given if _style(n) != _style(name))
                message = f"{name}: the size is also given as {others}; give it once"
                problems.append(Problem(name, value, "one size", message))
        return {}
    [style] = foreign
    spec = _parse(given, style, problems)
    if spec is None:
        return {}
    order = ["image_size", "dims", "aspect_ratio"] if spec.dims else ["aspect_ratio", "image_size", "dims"]
    for way in order:
        if way in available and (found := _express(spec, way, target)) is not None:
            return found
    accepts = _accepts(available, target)
    ratio = f"{spec.ratio[0]}:{spec.ratio[1]}"
    shown = show(spec.value) + ("" if spec.name == "aspect_ratio" else f" ({ratio})")
    said = f"it takes the size as {accepts}" if available else "it has no size input"
    message = f"{spec.name}={shown}: {said}"
    problems.append(Problem(spec.name, spec.value, accepts, message))
    return {}


def _style(name: str) -> str:
    return "dims" if name in ("width", "height") else name


def _styles(target: _Target, given: set[str]) -> set[str]:
    """How the target takes a size: image_size, aspect_ratio and/or dims (width + height)."""
    if target.schema is not None:
        found = {s for s in ("image_size", "aspect_ratio") if target.has(s)}
        return found | ({"dims"} if target.has("width") and target.has("height") else set())
    info = registry.info(target.provider)
    return (given & info.size_styles) or {info.size_style}


def _parse(given: dict[str, Any], style: str, problems: list[Problem]) -> _Size | None:
    if style == "image_size":
        value = given["image_size"]
        dims = _dims(value)
        if dims is None:
            allowed = f'one of {", ".join(PRESETS)}, or {{"width": …, "height": …}}'
            problems.append(
                Problem("image_size", value, allowed, f"image_size={show(value)} is not {allowed}")
            )
            return None
        return _Size("image_size", value, dims, _reduce(dims))
    if style == "aspect_ratio":
        value = given["aspect_ratio"]
        ratio = _ratio(value)
        if ratio is None:
            problems.append(
                Problem(
                    "aspect_ratio",
                    value,
                    "W:H",
                    f"aspect_ratio={show(value)} has no meaning elsewhere: give W:H",
                )
            )
            return None
        return _Size("aspect_ratio", value, None, ratio)
    width, height = given.get("width"), given.get("height")
    dims = _dims({"width": width, "height": height})
    if dims is None:
        name = "width" if "width" in given else "height"
        problems.append(Problem(name, given[name], "width and height", f"{name}: give both width and height"))
        return None
    return _Size("width", {"width": width, "height": height}, dims, _reduce(dims))


def _express(spec: _Size, style: str, target: _Target) -> dict[str, Any] | None:
    """`spec` as the target's `style`, or None when that style cannot say it."""
    if style == "aspect_ratio":
        text = f"{spec.ratio[0]}:{spec.ratio[1]}"
        allowed = target.enum("aspect_ratio")
        return {"aspect_ratio": text} if allowed is None or text in allowed else None
    if style == "dims":
        width, height = spec.dims or _pixels(spec.ratio)
        found: dict[str, Any] = {"width": width, "height": height}
        if "custom" in (target.enum("aspect_ratio") or []):  # Replicate's FLUX pro: width/height need it
            found["aspect_ratio"] = "custom"
        return found
    presets = [p for p in (target.enum("image_size") or PRESETS) if p in PRESETS]
    field = target.schema.get("image_size") if target.schema is not None else None
    custom = field is None or any("object" in types(b) for b in branches(field.schema))
    if spec.dims is not None:
        exact = next((p for p in presets if PRESETS[p] == spec.dims), None)
        if exact is not None:
            return {"image_size": exact}
        return {"image_size": {"width": spec.dims[0], "height": spec.dims[1]}} if custom else None
    same = next((p for p in presets if _reduce(PRESETS[p]) == spec.ratio), None)
    if same is not None:
        return {"image_size": same}
    width, height = _pixels(spec.ratio)
    return {"image_size": {"width": width, "height": height}} if custom else None


def _accepts(available: set[str], target: _Target) -> str:
    parts = []
    for style in sorted(available):
        if style == "dims":
            parts.append("width and height")
        else:
            allowed = target.enum(style)
            parts.append(f"{style}, one of {', '.join(map(str, allowed))}" if allowed else style)
    return " or ".join(parts) or "no size input"


def _dims(value: Any) -> tuple[int, int] | None:
    if isinstance(value, str):
        return PRESETS.get(value)
    if isinstance(value, dict):
        width, height = value.get("width"), value.get("height")
        if (
            isinstance(width, int | float)
            and isinstance(height, int | float)
            and _positive(width)
            and _positive(height)
        ):
            return int(width), int(height)
    return None


def _ratio(value: Any) -> tuple[int, int] | None:
    if not isinstance(value, str):
        return None
    left, sep, right = value.strip().partition(":")
    if not sep or not left.isdigit() or not right.isdigit() or not int(left) or not int(right):
        return None
    return _reduce((int(left), int(right)))


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value > 0
        and float(value).is_integer()
    )


def _reduce(dims: tuple[int, int]) -> tuple[int, int]:
    divisor = math.gcd(*dims)
    return dims[0] // divisor, dims[1] // divisor


def _pixels(ratio: tuple[int, int]) -> tuple[int, int]:
    def side(share: float) -> int:
        return max(64, round(math.sqrt(_MEGAPIXEL * share) / 64) * 64)

    return side(ratio[0] / ratio[1]), side(ratio[1] / ratio[0])


def _error(target: _Target, problems: list[Problem]) -> GenctlError:
    listed = "; ".join(p.message for p in problems)
    many = "s" if len(problems) > 1 else ""
    return error(
        "payload.invalid",
        f"{target.label} cannot take this input: {listed}",
        fix=f"Nothing was sent. Change or drop the parameter{many}, or pin the provider they are written for "
        f"with --provider; `genctl models show {target.model}` lists every input.",
        provider=target.provider,
        details={"fields": [p.to_json() for p in problems]},
    )
