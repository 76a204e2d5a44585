"""A model's input schema: `$ref`/`allOf`/`anyOf` resolved, its fields in the model's order, described.

Pure: no I/O. Both providers publish OpenAPI 3.0 JSON schemas (fal-api.md §3.3, replicate-api.md §3.2);
Replicate wraps enums as `allOf: [{$ref}]` and orders fields with `x-order` (§3.2). fal's order key,
`x-fal-order-properties`, is unverified (the sandbox emits it); without it the properties' own order is used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 12
_NUMBER_WORDS = {"integer": "an integer", "number": "a number"}
Json = dict[str, Any]


def inline(schema: Any, components: Mapping[str, Any], depth: int = 0) -> Any:
    """`schema` with every `#/components/schemas/X` `$ref` replaced by X and one-item `allOf`s merged.

    The keys next to a `$ref` or `allOf` (title, description, default, x-order) win over the target's, as
    Cog emits them. Past MAX_DEPTH (a recursive schema) a `$ref` is left as it is.
    """
    if isinstance(schema, list):
        return [inline(item, components, depth + 1) for item in schema]
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = components.get(ref.rsplit("/", 1)[-1])
        if isinstance(target, dict):
            outer = {k: v for k, v in schema.items() if k != "$ref"}
            return {**inline(target, components, depth + 1), **inline(outer, components, depth + 1)}
        return schema
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        outer = {k: v for k, v in schema.items() if k != "allOf"}
        return {**inline(all_of[0], components, depth + 1), **inline(outer, components, depth + 1)}
    return {key: inline(value, components, depth + 1) for key, value in schema.items()}


@dataclass(frozen=True)
class Field:
    """One input parameter of a model."""

    name: str
    schema: Json  # the property's schema, refs inlined
    required: bool = False

    @property
    def description(self) -> str:
        return " ".join(str(self.schema.get("description") or "").split())

    @property
    def has_default(self) -> bool:
        return "default" in self.schema

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    @property
    def enum(self) -> list[Any]:
        return enum_values(self.schema)

    @property
    def minimum(self) -> float | None:
        return bound(self.schema, "minimum")

    @property
    def maximum(self) -> float | None:
        return bound(self.schema, "maximum")

    @property
    def is_file(self) -> bool:
        """A URL input: what `-i NAME=PATH` is for."""
        return any(b.get("format") in ("uri", "binary") for b in branches(self.schema))

    @property
    def type(self) -> str:
        return type_text(self.schema)

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "enum": self.enum or None,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "description": self.description,
            "format": next((b["format"] for b in branches(self.schema) if "format" in b), None),
        }


@dataclass(frozen=True)
class InputSchema:
    """A model's input: its fields in the model's own order, and the self-contained JSON schema."""

    fields: tuple[Field, ...]
    json_schema: Json = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_json(self) -> Json:
        return {"fields": [f.to_json() for f in self.fields], "json_schema": self.json_schema}


def parse_input_schema(schema: Json, components: Mapping[str, Any]) -> InputSchema:
    """The fields of an OpenAPI `Input` object schema, ordered by x-order / x-fal-order-properties."""
    resolved = inline(schema, components)
    properties = resolved.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = set(resolved.get("required") or ())
    names = list(properties)
    order = resolved.get("x-fal-order-properties")
    if isinstance(order, list):
        names = [n for n in order if n in properties] + [n for n in names if n not in order]

    def x_order(name: str) -> float:
        value = properties[name].get("x-order") if isinstance(properties[name], dict) else None
        return float(value) if isinstance(value, int | float) else math.inf

    names.sort(key=x_order)  # stable: fields without x-order keep their place after those with one
    fields = tuple(
        Field(name, prop if isinstance(prop, dict) else {}, name in required)
        for name, prop in ((n, properties[n]) for n in names)
    )
    return InputSchema(fields=fields, json_schema=resolved)


# -- describing a schema -----------------------------------------------------------------------------


def branches(schema: Json) -> list[Json]:
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            return [b for b in options if isinstance(b, dict)]
    return [schema]


def types(schema: Json) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    if isinstance(kind, str):
        return [kind]
    if "enum" in schema:
        return sorted({json_type(v) for v in schema["enum"]})
    if "properties" in schema:
        return ["object"]
    return []


def enum_values(schema: Json) -> list[Any]:
    values: list[Any] = []
    for branch in branches(schema):
        values += [v for v in branch.get("enum") or () if v not in values]
    return values


def bound(schema: Json, which: str) -> float | None:
    for branch in branches(schema):
        value = branch.get(which)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    return None


def type_text(schema: Json) -> str:
    """`integer`, `string`, `ImageSize | string`, `array of string`: for tables and messages."""
    parts: list[str] = []
    for branch in branches(schema):
        for kind in types(branch) or ["any"]:
            if kind == "array" and isinstance(branch.get("items"), dict):
                inner = " | ".join(types(branch["items"])) or "any"
                kind = f"array of {inner}"
            elif kind == "object" and branch.get("title") and len(branches(schema)) > 1:
                kind = str(branch["title"])
            if kind not in parts and kind != "null":
                parts.append(kind)
    return " | ".join(parts) or "any"


def allowed_text(schema: Json) -> str:
    """What a value must be, in words: `an integer from 1 to 4`, `one of "jpeg", "png"`."""
    options = [_allowed_one(b) for b in branches(schema)]
    return " or ".join(dict.fromkeys(o for o in options if o)) or "any value"


def _allowed_one(schema: Json) -> str:
    if schema.get("enum"):
        return "one of " + ", ".join(show(v) for v in schema["enum"])
    kinds = [k for k in types(schema) if k != "null"]
    kind = kinds[0] if kinds else ""
    if kind in _NUMBER_WORDS:
        lo, hi = bound(schema, "minimum"), bound(schema, "maximum")
        lo_x, hi_x = bound(schema, "exclusiveMinimum"), bound(schema, "exclusiveMaximum")
        word = _NUMBER_WORDS[kind]
        if lo is not None and hi is not None:
            return f"{word} from {show(lo)} to {show(hi)}"
        limits = [f">= {show(lo)}" if lo is not None else "", f"> {show(lo_x)}" if lo_x is not None else ""]
        limits += [
            f"<= {show(hi)}" if hi is not None else "",
            f"< {show(hi_x)}" if hi_x is not None else "",
        ]
        shown = " and ".join(x for x in limits if x)
        return f"{word} {shown}".strip()
    if kind == "string":
        return "a URL, or -i NAME=PATH for a local file" if schema.get("format") == "uri" else "a string"
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        return "a JSON list (NAME:='[…]')"
    if kind == "object":
        props = schema.get("properties")
        inner = ", ".join(f'"{p}": …' for p in props) if isinstance(props, dict) else "…"
        return f"a JSON object {{{inner}}} (NAME:='{{…}}')"
    return ""


def show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


_TYPE_WORDS = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "a list",
    "object": "an object",
}


def given_text(value: Any) -> str:
    return f"{show(value)} ({_TYPE_WORDS[json_type(value)]})"
