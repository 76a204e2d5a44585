"""Check a model input against its JSON schema; providers turn the issues into their own 422 bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from genctl.sandbox.catalog import Json, resolve

IssueKind = Literal["missing", "type", "minimum", "maximum", "enum"]


@dataclass(frozen=True)
class Issue:
    loc: tuple[str, ...]  # field path inside the input, e.g. ("image_size", "width")
    kind: IssueKind
    expected: Any = None  # type name, bound, or the allowed values
    value: Any = None


def validate(values: Json, schema: Json, components: Json) -> list[Issue]:
    """Required fields first, then each supplied field in input order (extra fields are ignored)."""
    return _object(values, schema, components, ())


def _object(values: Json, schema: Json, components: Json, loc: tuple[str, ...]) -> list[Issue]:
    issues = [Issue((*loc, name), "missing") for name in schema.get("required", []) if name not in values]
    properties: Json = schema.get("properties", {})
    for name, value in values.items():
        if name in properties:
            issues += _value(value, properties[name], components, (*loc, name))
    return issues


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_ok(value: Any, expected: str) -> bool:
    actual = _json_type(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == expected


def _value(value: Any, schema: Json, components: Json, loc: tuple[str, ...]) -> list[Issue]:
    schema = resolve(schema, components)
    if value is None:  # optional fields (seed, image) may be sent as null
        return []
    if "anyOf" in schema:
        branches = [resolve(b, components) for b in schema["anyOf"]]
        results = [_value(value, b, components, loc) for b in branches]
        if any(not r for r in results):
            return []
        # Report against the branch of the same JSON type as the value, as a person would read it.
        same = [r for b, r in zip(branches, results, strict=True) if b.get("type") == _json_type(value)]
        return (same or results)[0]
    expected = schema.get("type")
    if expected and not _type_ok(value, expected):
        return [Issue(loc, "type", expected, value)]
    if "enum" in schema and value not in schema["enum"]:
        return [Issue(loc, "enum", list(schema["enum"]), value)]
    if expected in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return [Issue(loc, "minimum", schema["minimum"], value)]
        if "maximum" in schema and value > schema["maximum"]:
            return [Issue(loc, "maximum", schema["maximum"], value)]
    if expected == "object" and "properties" in schema:
        return _object(value, schema, components, loc)
    return []
