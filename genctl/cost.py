"""What a generation cost, or would cost: a pure value, and its JSON and text forms.

`basis` says how the figure was known: `billed` (the provider's own units for the call x its list price),
`estimate` (a price x units genctl counted or expects: before a run, or Replicate's price table) or
`unknown` (with a `reason`; no amount). A guess is never dressed as a fact: an unknown cost has no amount.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from genctl.errors import error

Basis = Literal["billed", "estimate", "unknown"]
BASES: tuple[str, ...] = ("billed", "estimate", "unknown")
DIGITS = 6  # money is rounded to a millionth of the currency: fal prices go down to $0.0001 per unit


@dataclass(frozen=True)
class Cost:
    """An amount of money with how it was reached; `amount` is None exactly when `basis` is unknown."""

    basis: Basis
    amount: float | None = None
    currency: str = "USD"
    unit: str | None = None
    units: float | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "amount": self.amount,
            "currency": self.currency,
            "unit": self.unit,
            "units": self.units,
            "basis": self.basis,
        }
        if self.basis == "unknown":
            data["reason"] = self.reason
        return data

    @classmethod
    def from_json(cls, data: Any) -> Cost:
        """Read back `to_json` (a history row); ValueError when it is not that shape."""
        if not isinstance(data, dict) or data.get("basis") not in BASES:
            raise ValueError("not a cost")
        if data["basis"] == "unknown":
            return unknown(str(data.get("reason") or "no reason recorded"))
        units = data.get("units")
        return cls(
            basis=data["basis"],
            amount=_finite(data.get("amount")),
            currency=str(data.get("currency") or "USD"),
            unit=str(data["unit"]) if data.get("unit") else None,
            units=_finite(units) if units is not None else None,
        )

    def text(self) -> str:
        """`$0.025 · 1 image`, `~$0.05 · 2 images (estimate)`, or `cost unknown (reason)`."""
        if self.amount is None:
            return f"cost unknown ({self.reason})"
        money = money_text(self.amount, self.currency)
        what = f" · {units_text(self.units, self.unit)}" if self.units is not None and self.unit else ""
        return f"{money}{what}" if self.basis == "billed" else f"~{money}{what} (estimate)"


@dataclass(frozen=True)
class PriceEntry:
    """One model's price from genctl's own table or the config's `[prices]`: `amount` per `unit`.

    `unit`: `second` (Replicate: of `metrics.predict_time`), `image` / `output` / `video` / `prediction`
    (per output file or per run), or any unit the provider bills in (fal: its `x-fal-billable-units`).
    """

    amount: float
    unit: str
    currency: str = "USD"
    source: str = ""  # where the price was read: a URL, or the config file
    as_of: str = ""  # the date it was read (YYYY-MM-DD)


PRICE_FIELDS = ("amount", "unit", "currency", "source", "as_of")


def parse_price_tables(table: Mapping[str, Any], path: Path) -> dict[str, PriceEntry]:
    """`[prices."owner/model"] amount = 0.003, unit = "image"` as model id -> PriceEntry."""
    prices: dict[str, PriceEntry] = {}
    for model, entry in table.items():
        label = f'[prices."{model}"]'
        fix = f'Edit {path}: write {label} with amount = 0.003 and unit = "image" (see `genctl config init`).'
        if not isinstance(entry, dict):
            raise error("config.invalid", f"{label} in {path} must be a table", fix=fix)
        amount, unit = entry.get("amount"), entry.get("unit")
        if not (isinstance(amount, int | float) and _ok(amount)):
            raise error("config.invalid", f"{label} amount in {path} must be a number, 0 or more", fix=fix)
        if not isinstance(unit, str) or not unit.strip():
            raise error("config.invalid", f"{label} unit in {path} must be a non-empty string", fix=fix)
        unknown_fields = sorted(set(entry) - set(PRICE_FIELDS))
        if unknown_fields:
            raise error(
                "config.invalid", f"{label} in {path} has unknown field {unknown_fields[0]!r}", fix=fix
            )
        prices[model] = PriceEntry(
            amount=float(amount),
            unit=unit.strip(),
            currency=str(entry.get("currency") or "USD"),
            source=str(entry.get("source") or path),
            as_of=str(entry.get("as_of") or ""),
        )
    return prices


def unknown(reason: str) -> Cost:
    return Cost(basis="unknown", reason=reason)


def priced(basis: Basis, *, price: float, units: float, unit: str, currency: str = "USD") -> Cost:
    """units x price, rounded; a price or a count that is not a finite number >= 0 makes it unknown."""
    if basis == "unknown":
        raise ValueError("a priced cost is billed or an estimate")
    if not (_ok(price) and _ok(units)):
        return unknown(f"the price or the units are not a number ({price!r} x {units!r})")
    return Cost(
        basis=basis,
        amount=round(price * units, DIGITS),
        currency=currency,
        unit=unit,
        units=round(units, DIGITS),
    )


def total(costs: list[Cost]) -> tuple[float, int]:
    """The sum of the known amounts (rounded) and how many costs were unknown."""
    known = [c.amount for c in costs if c.amount is not None]
    return round(math.fsum(known), DIGITS), len(costs) - len(known)


def money_text(amount: float, currency: str = "USD") -> str:
    """`$0.025`, `$1.5`, `$0`: at most 4 decimals (then 6 for tiny amounts), no trailing zeros."""
    digits = 4 if amount == 0 or abs(amount) >= 0.0001 else DIGITS
    figure = f"{amount:.{digits}f}".rstrip("0").rstrip(".")
    return f"${figure}" if currency == "USD" else f"{figure} {currency}"


def units_text(units: float | None, unit: str | None) -> str:
    if units is None or not unit:
        return ""
    figure = f"{units:.4f}".rstrip("0").rstrip(".")
    if units == 1:
        return f"{figure} {unit[:-1] if unit.endswith('s') else unit}"
    return f"{figure} {unit if unit.endswith('s') else unit + 's'}"


def _ok(value: float) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    )


def _finite(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(value)


class Budget:
    """USD that several generations share (a batch's --max-cost): each reserves its estimate before it is
    sent and settles it with what it cost after. Thread-safe: a batch's workers share one."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.committed = 0.0  # what the finished items cost, plus the estimates of those still running
        self._lock = threading.Lock()

    def reserve(self, estimate: Cost) -> float | None:
        """Take `estimate` out of the budget; None when it fits, else what was committed (nothing taken)."""
        with self._lock:
            amount = estimate.amount or 0.0
            if self.committed + amount > self.limit + 1e-9:
                return self.committed
            self.committed = round(self.committed + amount, DIGITS)
            return None

    def settle(self, estimate: Cost, cost: Cost) -> None:
        """Replace a reserved estimate by the cost (an unknown cost keeps the estimate: never less)."""
        with self._lock:
            spent = cost.amount if cost.amount is not None else (estimate.amount or 0.0)
            self.committed = round(self.committed - (estimate.amount or 0.0) + spent, DIGITS)
