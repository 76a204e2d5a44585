"""Seconds as people read them in messages: `3 s`, `2.5 s`, `0.25 s`, `45 s` — never `2.99838 s`.

A deadline that is what is left of a longer one (a fallback's share of --timeout) or a server's hint
arrives with every digit; messages round it, and JSON keeps the number.
"""

from __future__ import annotations

import math


def seconds(value: float) -> str:
    """`value` seconds, rounded for reading: whole seconds from 10 s, one decimal from 1 s, two below."""
    if not math.isfinite(value):
        return "no limit" if value > 0 else "0 s"
    if value >= 10:
        text = f"{round(value):d}"
    elif value >= 1:
        text = f"{value:.1f}".removesuffix(".0")
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".") or "0"
    return f"{text} s"
