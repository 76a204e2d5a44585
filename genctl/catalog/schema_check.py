"""Params checked against a model's input schema (genctl.providers.schema): coerced where unambiguous,
else Problems.

Pure. One `payload.invalid` (exit 5) lists every problem: unknown parameter (with did-you-mean), wrong type,
outside the enum or min/max, required and missing; each names the field, what was given, what is allowed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genctl.errors import GenctlError, error
from genctl.providers.schema import (
    MAX_DEPTH,
    Field,
    InputSchema,
    Json,
    allowed_text,
    branches,
    enum_values,
    given_text,
    show,
    types,
)

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class Problem:
    """One parameter the model would reject: the `details.fields[]` item of payload.invalid."""

    field: str
    given: Any
    allowed: str
    message: str

    def to_json(self) -> Json:
        return {"field": self.field, "given": self.given, "allowed": self.allowed, "message": self.message}


class _Mismatch(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _coerce(value: Any, kind: str, raw: str | None) -> Any:
    """`value` as JSON type `kind`, converting only where the meaning is unambiguous; _Mismatch otherwise.

    `raw` is the `-p` text the value was parsed from (genctl.params guesses 2 -> int, true -> bool), so a
    string field gets back exactly what was typed ("10", not 10): fal's `duration: "5"|"10"`, Replicate's
    `megapixels: "1"|"0.25"`.
    """
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        if isinstance(value, str):
            return value
        if raw is not None and not isinstance(value, list | dict):
            return raw
        if is_number:  # a TOML number for a string field: `duration = 5` in the config
            return str(value)
    elif kind == "integer":
        if is_number and float(value).is_integer():
            return int(value)
    elif kind == "number":
        if is_number:
            return value
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        text = (raw if raw is not None else str(value)).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
    elif kind == "array":
        if isinstance(value, list):
            return value
    elif kind == "object":
        if isinstance(value, dict):
            return value
    elif kind == "null":
        if value is None:
            return None
    else:
        return value  # a type genctl does not know: let the provider judge
    raise _Mismatch("type")


def _check(value: Any, schema: Json, raw: str | None, depth: int = 0) -> Any:
    """The value, coerced to fit `schema`; _Mismatch naming the first rule it breaks."""
    options = branches(schema)
    if len(options) > 1:
        reasons = []
        for branch in options:
            try:
                return _check(value, branch, raw, depth + 1)
            except _Mismatch as exc:
                reasons.append(exc.reason)
        # Report the branch the value's type fits (a string outside the enum), as a person reads it.
        raise _Mismatch(next((r for r in reasons if r != "type"), "type"))
    if value is None:
        return None  # null: "not set"; providers read an explicit null as the default
    kinds = types(schema)
    for kind in kinds or [""]:
        try:
            value = _coerce(value, kind, raw) if kind else value
            break
        except _Mismatch:
            continue
    else:
        raise _Mismatch("type")
    if schema.get("enum") and value not in schema["enum"]:
        raise _Mismatch("enum")
    if isinstance(value, int | float) and not isinstance(value, bool):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if isinstance(lo, int | float) and value < lo:
            raise _Mismatch("minimum")
        if isinstance(hi, int | float) and value > hi:
            raise _Mismatch("maximum")
        lo, hi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if (isinstance(lo, int | float) and value <= lo) or (isinstance(hi, int | float) and value >= hi):
            raise _Mismatch("minimum" if isinstance(lo, int | float) and value <= lo else "maximum")
    if isinstance(value, str):
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            raise _Mismatch("minimum")
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            raise _Mismatch("maximum")
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict) and depth < MAX_DEPTH:
        props: Json = schema["properties"]
        for name in schema.get("required") or ():
            if name not in value:
                raise _Mismatch("type")
        value = {k: _check(v, props[k], None, depth + 1) if k in props else v for k, v in value.items()}
    return value


def _reason_text(reason: str, value: Any, schema: Json) -> str:
    shown = show(value)
    if reason == "enum":
        choices = [str(v) for v in enum_values(schema)]
        near = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        return f"{shown} is not allowed" + (f" (did you mean {show(near[0])}?)" if near else "")
    if reason in ("minimum", "maximum") and isinstance(value, str):
        return f"{shown} is too {'short' if reason == 'minimum' else 'long'}"
    if reason == "minimum":
        return f"{shown} is below the minimum"
    if reason == "maximum":
        return f"{shown} is above the maximum"
    return f"{given_text(value)} is the wrong type"


def near_name(name: str, names: list[str]) -> str | None:
    """The parameter the user most likely meant: close spelling, else a name containing it (steps)."""
    found = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if found:
        return found[0]
    lowered = name.lower()
    containing = [n for n in names if lowered in n.lower() or (len(n) >= 4 and n.lower() in lowered)]
    return min(containing, key=len) if containing else None


def check_params(
    schema: InputSchema,
    params: Mapping[str, Any],
    *,
    raw: Mapping[str, str] | None = None,
    file_keys: frozenset[str] = frozenset(),
    sources: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """Params coerced to the schema's types, and every problem the model would reject them for.

    `raw` maps a name to the `-p` text its value was parsed from; `file_keys` are `-i` inputs (still local
    paths here: only their names are checked); `sources` names where a value came from, for messages.
    """
    raw, sources = raw or {}, sources or {}
    coerced: dict[str, Any] = {}
    problems: list[Problem] = []
    names = schema.names
    for name, value in params.items():
        origin = f" (from {sources[name]})" if name in sources else ""
        spec = schema.get(name)
        if spec is None:
            guess = near_name(name, names)
            hint = f"; did you mean {guess}?" if guess else ""
            text = next((f.name for f in schema.fields if f.required and "string" in types(f.schema)), None)
            if name == "prompt" and not guess and text:
                hint = f"; this model takes its text as {text}: -p {text}=…"
            allowed = "one of " + ", ".join(names)
            message = f"unknown parameter {name}{origin}{hint}"
            problems.append(Problem(name, value, allowed, message))
            coerced[name] = value
            continue
        if name in file_keys:
            coerced[name] = value
            continue
        try:
            coerced[name] = _check(value, spec.schema, raw.get(name))
        except _Mismatch as exc:
            allowed = allowed_text(spec.schema)
            said = _reason_text(exc.reason, value, spec.schema)
            problems.append(Problem(name, value, allowed, f"{name}{origin}: {said}; allowed: {allowed}"))
            coerced[name] = value
    for spec in schema.fields:
        if spec.required and spec.name not in params:
            allowed = allowed_text(spec.schema)
            how = _how_to_give(spec)
            problems.append(Problem(spec.name, None, allowed, f"{spec.name} is required ({allowed}): {how}"))
    return coerced, problems


def _how_to_give(spec: Field) -> str:
    if spec.name == "prompt":
        return 'give the prompt as the first argument: genctl generate "…"'
    if spec.is_file:
        return f"add -i {spec.name}=PATH_OR_URL"
    return f"add -p {spec.name}=…"


def payload_error(model: str, provider: str, problems: list[Problem]) -> GenctlError:
    """The one payload.invalid for every problem found before sending (exit 5)."""
    listed = "; ".join(p.message for p in problems)
    return error(
        "payload.invalid",
        f"{model} would reject this input: {listed}",
        fix=(
            f"Nothing was sent. Fix the parameter{'s' if len(problems) > 1 else ''} above; "
            f"`genctl models show {model}` lists every input. --no-validate sends it unchecked."
        ),
        provider=provider,
        details={"fields": [p.to_json() for p in problems]},
    )
