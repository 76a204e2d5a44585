"""Prices genctl ships for models whose provider has no price API (Replicate), and what a run cost by them.

Replicate returns no prices (issue #15; replicate-api.md has none): its official models are priced per
output or per second of hardware on their model pages. genctl ships an entry only for a price read from a
source in /work/shared/reference, with that source and the date; there is none yet, so every Replicate model
is "unknown" until the user writes a `[prices."owner/model"]` table in the config (README "What it costs").
The config's entries win over this table for every provider.
"""

from __future__ import annotations

import math
from typing import Any

from genctl.cost import Cost, PriceEntry, priced, unknown
from genctl.providers import registry
from genctl.providers.base import Price, Result

TABLE_DATE = "2026-12-02"  # when the table below was last checked against its sources
# model id -> its price, each with its source URL and date. Empty: no reference artifact gives a price.
SHIPPED: dict[str, PriceEntry] = {}

REPLICATE = registry.REPLICATE.name
PER_SECOND = ("second", "seconds")  # of the prediction's metrics.predict_time
PER_OUTPUT = ("image", "images", "output", "outputs", "video", "videos", "audio", "file", "files")
PER_RUN = ("prediction", "predictions", "run", "runs", "call", "calls", "request", "requests")


def table_price(prices: dict[str, PriceEntry], model: str) -> PriceEntry | None:
    """The config's `[prices]` entry for `model` (a version suffix ignored), else the shipped one."""
    for name in (model, model.split(":", 1)[0]):
        found = prices.get(name) or SHIPPED.get(name)
        if found is not None:
            return found
    return None


def replicate_cost(price: PriceEntry | None, model: str, raw: Any, outputs: int) -> Cost:
    """A finished prediction's cost by a table price: always an estimate (Replicate bills, genctl counts)."""
    if price is None:
        return unknown(f'Replicate has no price API and the config has no [prices."{_bare(model)}"]')
    metrics = raw.get("metrics") if isinstance(raw, dict) else None
    if price.unit in PER_SECOND:
        seconds = metrics.get("predict_time") if isinstance(metrics, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            return unknown("the prediction reports no metrics.predict_time")
        return priced(
            "estimate", price=price.amount, units=float(seconds), unit="second", currency=price.currency
        )
    if price.unit in PER_OUTPUT:
        return priced("estimate", price=price.amount, units=outputs, unit=price.unit, currency=price.currency)
    if price.unit in PER_RUN:
        return priced("estimate", price=price.amount, units=1, unit=price.unit, currency=price.currency)
    return unknown(f"genctl cannot count Replicate units of {price.unit!r} (use second, image or prediction)")


def from_price(price: Price, source: str) -> PriceEntry:
    return PriceEntry(amount=price.amount, unit=price.unit, currency=price.currency, source=source)


def expected_units(unit: str, params: dict[str, Any]) -> float | None:
    """How many `unit`s a run of these params should bill, before it runs; None when genctl cannot tell.

    UNVERIFIED: how each app counts its units (fal-api.md §1.7 names the header, not the counting); this
    reads the inputs the way the units are named: images = num_images / num_outputs, seconds = duration,
    megapixels = an explicit image_size {width, height} x images. Anything else is unknown, never a guess.
    """
    count = _count(params.get("num_images", params.get("num_outputs", 1)))
    name = unit.strip().lower()
    if name in PER_OUTPUT:
        return count
    if name in PER_RUN:
        return 1.0
    if name in PER_SECOND:
        duration = params.get("duration")
        seconds = _number(str(duration).strip().rstrip("s")) if duration is not None else None
        return seconds
    if name in ("megapixel", "megapixels"):
        size = params.get("image_size")
        if isinstance(size, dict):
            width, height = _number(size.get("width")), _number(size.get("height"))
            if width is not None and height is not None and count is not None:
                return math.ceil(width * height / 1_000_000) * count
    return None


def estimate(price: PriceEntry | None, model: str, params: dict[str, Any], provider: str) -> Cost:
    """What a run should cost, before it runs: `estimate`, or `unknown` with the reason."""
    if price is None:
        if provider == REPLICATE:
            return replicate_cost(None, model, None, 0)
        return unknown(f"{registry.label(provider)} gave no price for {_bare(model)}")
    units = expected_units(price.unit, params)
    if units is None:
        return unknown(f"priced per {price.unit}: the units are known only after the run")
    return priced("estimate", price=price.amount, units=units, unit=price.unit, currency=price.currency)


def actual(
    price: PriceEntry | None, model: str, params: dict[str, Any], provider: str, result: Result
) -> Cost:
    """What a finished run cost: fal's billed units x its price; Replicate's metrics by a table price."""
    if provider == REPLICATE:
        return replicate_cost(price, model, result.raw, len([o for o in result.outputs if o.url]))
    if price is None:
        return estimate(None, model, params, provider)
    if result.billable_units is None:
        before = estimate(price, model, params, provider)
        reason = f"{registry.label(provider)} sent no billable units"
        return before if before.amount is not None else unknown(f"{reason}; {before.reason}")
    # The provider's own units for this call x its price: billed (a config [prices] entry for it included).
    return priced(
        "billed", price=price.amount, units=result.billable_units, unit=price.unit, currency=price.currency
    )


def _count(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number >= 1 and number == int(number) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _bare(model: str) -> str:
    return model.split(":", 1)[0]
