"""Turning `-p KEY=VALUE` and `-i KEY=PATH` strings into a model's input: pure parsing, no I/O."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from genctl.errors import GenctlError, usage

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class _NotJsonNumber(ValueError):
    """A number JSON cannot carry (NaN, Infinity, 1e999)."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJsonNumber(text)
    return value


def _no_constant(name: str) -> Any:
    raise _NotJsonNumber(name)


def load_json(text: str) -> Any:
    """JSON as a request can carry it: no NaN/Infinity, no number overflowing to infinity. Raises
    json.JSONDecodeError, _NotJsonNumber, or RecursionError (nesting deeper than Python's stack)."""
    return json.loads(text, parse_float=_finite, parse_constant=_no_constant)


def parse_value(text: str, *, item: str | None = None) -> Any:
    """`"2"` -> 2, `"0.5"` -> 0.5, `"true"` -> True, `'{"a":1}'` -> dict; anything else stays a string."""
    if _INT.fullmatch(text) and len(text) <= 4000:  # int() refuses more than 4300 digits
        return int(text)
    if _FLOAT.fullmatch(text):
        value = float(text)
        if not math.isfinite(value):
            raise _bad_number(item or text, text)
        return value
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if text[:1] in "[{":
        try:
            return load_json(text)
        except json.JSONDecodeError:
            return text
        except (_NotJsonNumber, ValueError) as exc:  # ValueError: an integer of more than 4300 digits
            raise _bad_number(item or text, str(exc)) from exc
        except RecursionError as exc:
            raise _too_deep(item or text) from exc
    return text


def _shown(item: str) -> str:
    return repr(item if len(item) <= 60 else item[:57] + "...")


def _bad_number(item: str, number: str) -> GenctlError:
    return usage(
        f"-p {_shown(item)}: {number[:40]} is not a number a request can carry (NaN, Infinity or too large).",
        fix="Give a finite number, e.g. -p guidance_scale=3.5.",
    )


def _too_deep(item: str) -> GenctlError:
    return usage(
        f"-p {_shown(item)}: the JSON nests too deeply to read.",
        fix="No model input needs more than a few levels of nesting: check the value.",
    )


def parse_param(item: str) -> tuple[str, Any]:
    """One `-p` item: `KEY=VALUE` (value guessed) or `KEY:=JSON` (value must be JSON)."""
    key, sep, raw = item.partition("=")
    if not sep:
        raise usage(
            f"-p {item!r} is not KEY=VALUE.",
            fix="Write it as -p num_images=2, or -p 'image_size:={\"width\":512}'.",
        )
    if key.endswith(":"):
        key = key[:-1]
        try:
            value: Any = load_json(raw)
        except json.JSONDecodeError as exc:
            raise usage(
                f"-p {key}:= needs JSON, and {_shown(raw)} is not JSON ({exc.msg} at column {exc.colno}).",
                fix='Quote strings inside JSON: -p \'tags:=["a","b"]\'.',
            ) from exc
        except (_NotJsonNumber, ValueError) as exc:  # ValueError: an integer of more than 4300 digits
            raise _bad_number(item, str(exc)) from exc
        except RecursionError as exc:
            raise _too_deep(item) from exc
    else:
        value = parse_value(raw, item=item)
    _check_key(key, item, "-p")
    return key, value


def parse_input(item: str) -> tuple[str, str]:
    """One `-i` item: `KEY=PATH_OR_URL`."""
    key, sep, value = item.partition("=")
    if not sep or not value:
        raise usage(f"-i {item!r} is not KEY=PATH_OR_URL.", fix="Write it as -i image_url=./cat.png.")
    _check_key(key, item, "-i")
    return key, value


def _check_key(key: str, item: str, flag: str) -> None:
    if not _KEY.fullmatch(key):
        raise usage(
            f"{flag} {item!r}: {key!r} is not a parameter name.", fix=f"Write it as {flag} name=value."
        )


def build_params(
    *, prompt: str | None, defaults: dict[str, Any], params: list[str], prompt_key: str = "prompt"
) -> dict[str, Any]:
    """Config defaults, then the prompt, then `-p` values (later wins)."""
    merged: dict[str, Any] = dict(defaults)
    if prompt is not None:
        merged[prompt_key] = prompt
    for item in params:
        key, value = parse_param(item)
        merged[key] = value
    return merged
