"""Turning `-p KEY=VALUE` and `-i KEY=PATH` strings into a model's input: pure parsing, no I/O."""

from __future__ import annotations

import json
import re
from typing import Any

from genctl.errors import usage

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def parse_value(text: str) -> Any:
    """`"2"` -> 2, `"0.5"` -> 0.5, `"true"` -> True, `'{"a":1}'` -> dict; anything else stays a string."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


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
            value: Any = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise usage(
                f"-p {key}:= needs JSON, and {raw!r} is not JSON ({exc.msg} at column {exc.colno}).",
                fix='Quote strings inside JSON: -p \'tags:=["a","b"]\'.',
            ) from exc
    else:
        value = parse_value(raw)
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
