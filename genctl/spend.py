"""What a generation costs, around the run: its price, the estimate and the budget check before it is sent,
and what it cost after (genctl.cost values; the per-provider rules are genctl.providers.prices).

A price comes from the config's `[prices]` table first, then from the provider's price API through the
catalogue (fal `GET /v1/models/pricing`, cached like the catalogue), then genctl's shipped table.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from genctl import deadline as limits
from genctl.catalog import ONE_TRY, Catalog, NotCached
from genctl.cost import DIGITS, Budget, Cost, PriceEntry, money_text, total
from genctl.errors import GenctlError, error, usage
from genctl.history.tracking import Tracker
from genctl.providers import prices

if TYPE_CHECKING:
    import httpx

    from genctl.history import History, JobRecord
    from genctl.plan import GenerationRequest, Plan
    from genctl.providers.base import Job, Result
    from genctl.runner import Event
    from genctl.settings import Settings
    from genctl.values import Key

log = logging.getLogger(__name__)
PRICE_FIX = 'Add [prices."{model}"] with amount and unit to the config (see README), or drop --max-cost.'
RESUME_FIX = (
    "Run the batch again with --resume and a higher --max-cost: the items that succeeded are skipped."
)
UNITS_FIX = (
    "Give the inputs the price counts (-p num_images=N, -p duration=S, or image_size as JSON with width and "
    "height), or drop --max-cost."
)


def price_of(settings: Settings, resolved: Plan, client: httpx.Client | None) -> PriceEntry | None:
    """The model's price, or None when no source has one. Without a client only a cached price is read."""
    return price_for(settings, resolved.provider.name, resolved.model, resolved.key, client)


PRICE_LIMIT = 2.0  # seconds: a price only decorates a finished run; it never holds the result longer


class PriceLookup:
    """The price of a run, asked for on a thread once the provider has accepted the job, while it runs.

    The result then waits for no price round trip, and a price API that hangs holds it PRICE_LIMIT s at most
    (under the command's own --timeout too): past that the cost is "unknown", the outputs are already saved.
    Nothing is asked for a submit that was refused. Leaving the block waits (as long as the look-up may take)
    for the thread to be done with the client, which closes after it; an interrupt does not wait.
    """

    def __init__(self, settings: Settings, resolved: Plan, client: httpx.Client) -> None:
        self._args = (settings, resolved, client)
        self._price: PriceEntry | None = None
        self._thread: threading.Thread | None = None
        self._ends = 0.0

    def __enter__(self) -> PriceLookup:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None or not issubclass(kind, KeyboardInterrupt):
            self._join()

    def starting(self, on_event: Callable[[Event], None] | None) -> Callable[[Event], None]:
        """`on_event`, starting the look-up on the runner's "submitted" event."""

        def forward(event: Event) -> None:
            if event.kind == "submitted" and self._thread is None:
                self._start()
            if on_event is not None:
                on_event(event)

        return forward

    def _start(self) -> None:
        self._ends = time.monotonic() + PRICE_LIMIT
        self._thread = threading.Thread(
            target=limits.carried(self._look_up),
            name="genctl-price",
            daemon=True,  # a look-up still hanging never holds the process's exit
        )
        self._thread.start()

    def _look_up(self) -> None:
        settings, resolved, client = self._args
        try:
            with limits.limit(PRICE_LIMIT, f"the price look-up's {PRICE_LIMIT:g} s"):
                self._price = price_of(settings, resolved, client)
        except Exception as err:  # a thread's error has nowhere to go; the cost says "unknown"
            log.debug("no price for %s: %s", resolved.model, err)

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join(max(0.0, self._ends - time.monotonic()) + 0.25)

    def result(self) -> PriceEntry | None:
        """The price, or None when there is none, no job was accepted, or it did not come in time."""
        self._join()
        if self._thread is not None and self._thread.is_alive():
            log.debug("no price for the run: the look-up took longer than %g s", PRICE_LIMIT)
            return None
        return self._price


def price_for(
    settings: Settings, provider: str, model: str, key: Key | None, client: httpx.Client | None
) -> PriceEntry | None:
    entry = prices.table_price(settings.prices, model)
    if entry is not None:
        return entry
    catalog = Catalog(
        settings, client=client, keys={provider: key}, cache_only=client is None, policy=ONE_TRY
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


def admit(
    settings: Settings, request: GenerationRequest, resolved: Plan, estimate: Cost, *, priced: bool
) -> None:
    """Before a submit: the batch's shared budget (reserving the estimate), else this generation's own."""
    model = resolved.model
    if request.budget is None:
        limit = request.max_cost if request.max_cost is not None else settings.max_cost
        check_budget(estimate, limit, model=model, priced=priced)
        return
    check_budget(estimate, request.budget.limit, model=model, priced=priced)  # unknown: refused
    spent = request.budget.reserve(estimate)
    if spent is not None:
        check_budget(estimate, request.budget.limit, model=model, priced=priced, spent=spent, fix=RESUME_FIX)


def settle(request: GenerationRequest, estimate: Cost, cost: Cost) -> None:
    if request.budget is not None:
        request.budget.settle(estimate, cost)


def batch_budget(
    settings: Settings,
    requests: Sequence[GenerationRequest],
    estimate_of: Callable[[GenerationRequest], Cost | None],
) -> Budget | None:
    """A batch's budget (its --max-cost, else [defaults] max_cost), checked against the sum of the items'
    estimates before anything is sent; None without a budget. `estimate_of` gives None for an item that
    cannot be planned (it fails on its own when it runs)."""
    first = requests[0] if requests else None
    limit = first.max_cost if first is not None and first.max_cost is not None else settings.max_cost
    if limit is None:
        return None
    costs = [c for c in (estimate_of(r) for r in requests) if c is not None]
    unknown_ones = [c for c in costs if c.amount is None]
    if unknown_ones:
        raise error(
            "budget.unknown",
            f"The cost of {len(unknown_ones)} of the batch's items is unknown ({unknown_ones[0].reason}),"
            f" with a budget of {money_text(limit)}; nothing was sent.",
            fix="Price every model ([prices] in the config, see README) and give the inputs the price counts,"
            " or drop --max-cost.",
            details={"max_cost": limit, "unknown": len(unknown_ones)},
        )
    amount, _ = total(costs)
    if amount > limit + 1e-9:
        raise error(
            "budget.exceeded",
            f"The batch would cost ~{money_text(amount)} ({len(costs)} items, estimated), over the budget"
            f" of {money_text(limit)}; nothing was sent.",
            fix="Raise --max-cost (or [defaults] max_cost), or run fewer items.",
            details={"max_cost": limit, "estimate": amount, "items": len(costs)},
        )
    return Budget(limit)


def check_budget(
    cost: Cost,
    max_cost: float | None,
    *,
    model: str,
    priced: bool = False,
    spent: float = 0.0,
    fix: str = "Raise --max-cost (or [defaults] max_cost), or ask for less (fewer images, shorter video).",
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
            fix=fix,
            details={"max_cost": max_cost, "spent": spent, "cost": cost.to_json()},
        )


def record(history: History | None, job: Job, cost: Cost) -> None:
    """Store the cost on the job's history row (a database that cannot be written only warns, as ever)."""
    Tracker.of_job(history, job, ()).update(cost=cost.amount, cost_detail=cost.to_json())


# --- what history shows -----------------------------------------------------------------------------------


def row_cost(detail: dict[str, Any] | None) -> Cost | None:
    """A history row's Cost; None for a row recorded without one (before genctl recorded costs)."""
    if detail is None:
        return None
    try:
        return Cost.from_json(detail)
    except ValueError:
        return None


def short_text(cost: Cost | None) -> str:
    """The history table's cost cell: `$0.025` billed, `~$0.025` estimated, `?` unknown, `-` not recorded."""
    if cost is None:
        return "-"
    if cost.amount is None:
        return "?"
    return ("" if cost.basis == "billed" else "~") + money_text(cost.amount, cost.currency)


@dataclass(frozen=True)
class Total:
    """The cost of some jobs: the known amounts summed, and how many were estimates or unknown."""

    provider: str
    model: str
    jobs: int = 0
    amount: float = 0.0
    estimates: int = 0
    unknown: int = 0  # unknown, or recorded without a cost

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "jobs": self.jobs,
            "amount": round(self.amount, DIGITS),
            "currency": "USD",
            "estimates": self.estimates,
            "unknown": self.unknown,
        }

    def text(self) -> str:
        notes = [f"{n} {what}" for n, what in ((self.estimates, "estimated"), (self.unknown, "unknown")) if n]
        return money_text(round(self.amount, DIGITS)) + (f" ({', '.join(notes)})" if notes else "")

    def add(self, cost: Cost | None) -> Total:
        known = cost is not None and cost.amount is not None
        return replace(
            self,
            jobs=self.jobs + 1,
            amount=self.amount + (cost.amount if cost is not None and cost.amount is not None else 0.0),
            estimates=self.estimates + (1 if known and cost is not None and cost.basis == "estimate" else 0),
            unknown=self.unknown + (0 if known else 1),
        )


def totals(rows: Sequence[tuple[str, str, Cost | None]]) -> tuple[list[Total], Total]:
    """(provider, model, cost) rows as one Total per provider and model (sorted), and the grand total."""
    groups: dict[tuple[str, str], Total] = {}
    grand = Total(provider="", model="")
    for provider, model, cost in rows:
        groups[(provider, model)] = groups.get((provider, model), Total(provider, model)).add(cost)
        grand = grand.add(cost)
    return [groups[k] for k in sorted(groups)], grand


_SINCE = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def since(text: str, now: float) -> float:
    """`--since 24h` / `7d` / `30m` / `2w` / `2026-12-01` as a Unix time; usage.invalid otherwise."""
    value = text.strip().lower()
    if found := _SINCE.match(value):
        return now - float(found.group(1)) * _SECONDS[found.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise usage(
            f"--since {text!r} is not a duration or a date.", fix="Use e.g. --since 24h, 7d or 2026-12-01."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def recovered(
    settings: Settings,
    record: JobRecord,
    key: Key | None,
    client: httpx.Client,
    result: Result,
) -> dict[str, Any]:
    """The history columns of what a job `genctl result` fetched cost (`cost`, `cost_detail`)."""
    price = price_for(settings, record.provider, record.model, key, client)
    cost = prices.actual(price, record.model, record.params, record.provider, result)
    return {"cost": cost.amount, "cost_detail": cost.to_json()}
