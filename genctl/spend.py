"""What a generation costs, around the run: its price, the estimate and the budget check before it is sent,
and what it cost after (genctl.cost values; the per-provider rules are genctl.providers.prices).

A price comes from the config's `[prices]` table first, then from the provider's price API through the
catalogue (fal `GET /v1/models/pricing`, cached like the catalogue), then genctl's shipped table.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from genctl.catalog import ONE_TRY, Catalog, NotCached
from genctl.cost import Cost, PriceEntry, money_text
from genctl.errors import GenctlError, error
from genctl.providers import prices

if TYPE_CHECKING:
    import httpx

    from genctl.plan import Plan
    from genctl.providers.base import Result
    from genctl.settings import Settings

log = logging.getLogger(__name__)
PRICE_FIX = 'Add [prices."{model}"] with amount and unit to the config (see README), or drop --max-cost.'
UNITS_FIX = (
    "Give the inputs the price counts (-p num_images=N, -p duration=S, or image_size as JSON with width and "
    "height), or drop --max-cost."
)


def price_of(settings: Settings, resolved: Plan, client: httpx.Client | None) -> PriceEntry | None:
    """The model's price, or None when no source has one. Without a client only a cached price is read."""

    provider, model = resolved.provider.name, resolved.model
    entry = prices.table_price(settings.prices, model)
    if entry is not None:
        return entry
    catalog = Catalog(
        settings, client=client, keys={provider: resolved.key}, cache_only=client is None, policy=ONE_TRY
    )
    try:
        found = catalog.prices(provider, [model]).get(model)
    except (GenctlError, NotCached) as err:  # a price only decorates a run, unless a budget needs it
        log.debug("no price for %s: %s", model, err)
        return None
    return prices.from_price(found, source=f"{provider} price API") if found else None


def estimate(resolved: Plan, price: PriceEntry | None) -> Cost:
    """What the run should cost, before it is sent."""
    return prices.estimate(price, resolved.model, resolved.params, resolved.provider.name)


def actual(resolved: Plan, price: PriceEntry | None, result: Result) -> Cost:
    """What the finished run cost."""
    return prices.actual(price, resolved.model, resolved.params, resolved.provider.name, result)


def check_budget(
    cost: Cost, max_cost: float | None, *, model: str, priced: bool = False, spent: float = 0.0
) -> None:
    """budget.exceeded when spent + the estimate is over `max_cost`; budget.unknown when it has no amount."""

    if max_cost is None:
        return
    limit = money_text(max_cost)
    if cost.amount is None:
        raise error(
            "budget.unknown",
            f"The cost of {model} is unknown ({cost.reason}), with a budget of {limit}; nothing was sent.",
            fix=UNITS_FIX if priced else PRICE_FIX.format(model=model.split(":", 1)[0]),
            details={"max_cost": max_cost, "cost": cost.to_json()},
        )
    if spent + cost.amount > max_cost + 1e-9:
        so_far = f" on top of {money_text(spent)} spent" if spent else ""
        raise error(
            "budget.exceeded",
            f"{model} would cost {cost.text()}{so_far}, over the budget of {limit}; nothing was sent.",
            fix="Raise --max-cost (or [defaults] max_cost), or ask for less (fewer images, shorter video).",
            details={"max_cost": max_cost, "spent": spent, "cost": cost.to_json()},
        )
