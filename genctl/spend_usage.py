"""`genctl usage`: genctl's record of what jobs cost next to the provider's own view, where an API has one
(fal's billing events, with an ADMIN key), and where the two disagree. No printing: the CLI renders it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genctl.catalog import DEFAULT_POLICY
from genctl.cost import DIGITS, money_text
from genctl.http import send
from genctl.providers import fal_billing, registry
from genctl.providers.factory import get_provider
from genctl.spend import Total, row_cost, totals

if TYPE_CHECKING:
    import httpx

    from genctl.history import JobRecord
    from genctl.settings import Settings

TOLERANCE = 1e-6  # USD: a smaller difference is rounding, not a disagreement
BILLING_VIEW = frozenset({registry.FAL.name})  # providers whose API reports what was billed


@dataclass(frozen=True)
class ProviderView:
    """One provider's own account of the period, compared with genctl's record of it."""

    provider: str
    note: str = ""  # why there is no view ("needs an ADMIN key", "offers no usage view"); "" with one
    amount: float | None = None
    requests: int = 0
    disagree: list[dict[str, Any]] = field(default_factory=list)  # {request_id, genctl, provider}
    only_provider: list[str] = field(default_factory=list)  # billed, but not in genctl's history
    only_genctl: list[str] = field(default_factory=list)  # billed by genctl's record, no event (yet)
    truncated: bool = False

    @property
    def agrees(self) -> bool | None:
        if self.amount is None:
            return None
        return not (self.disagree or self.only_provider or self.only_genctl)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "available": self.amount is not None,
            "note": self.note or None,
            "amount": None if self.amount is None else round(self.amount, DIGITS),
            "currency": "USD",
            "requests": self.requests,
            "agrees": self.agrees,
            "disagree": self.disagree,
            "only_provider": self.only_provider,
            "only_genctl": self.only_genctl,
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class UsageReport:
    start: float
    end: float
    recorded: dict[str, Total]  # provider -> genctl's total of the period
    views: list[ProviderView]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "start": self.start,
            "end": self.end,
            "providers": [
                {"recorded": self.recorded[v.provider].to_json(), "provider_view": v.to_json()}
                for v in self.views
            ],
        }


def usage(
    settings: Settings, rows: list[JobRecord], *, start: float, end: float, client: httpx.Client
) -> UsageReport:
    """genctl's record of [start, end) (`rows`: history) and each configured provider's own view."""
    chosen = [r for r in rows if start <= r.submitted_at < end]
    recorded: dict[str, Total] = {}
    views: list[ProviderView] = []
    for name in registry.NAMES:
        mine = [r for r in chosen if r.provider == name]
        _, recorded[name] = totals([(r.provider, r.model, row_cost(r.cost_detail)) for r in mine])
        if name not in BILLING_VIEW:
            views.append(
                ProviderView(name, note=f"{registry.label(name)}'s API offers no usage or billing view")
            )
        elif not settings.providers[name].keys:
            views.append(ProviderView(name, note=f"no {registry.label(name)} key is configured"))
        else:
            views.append(_fal_view(settings, name, mine, start=start, end=end, client=client))
    return UsageReport(start=start, end=end, recorded=recorded, views=views)


def _fal_view(
    settings: Settings, name: str, mine: list[JobRecord], *, start: float, end: float, client: httpx.Client
) -> ProviderView:
    provider_settings = settings.providers[name]
    provider = get_provider(name, provider_settings)
    api_url = provider_settings.urls["api_url"]
    for key in provider_settings.keys:  # the first ADMIN key among them
        events: list[fal_billing.BilledEvent] = []
        cursor: str | None = None
        for _ in range(fal_billing.MAX_PAGES):
            request = fal_billing.billing_events_request(api_url, key, start=start, end=end, cursor=cursor)
            response = send(client, request, policy=DEFAULT_POLICY, provider=name)
            if fal_billing.needs_admin(response):
                break
            if response.status_code >= 400:
                raise provider.error_from_response(response, key=key)
            page, cursor = fal_billing.parse_billing_events(response)
            events += page
            if cursor is None:
                return _compare(name, mine, events, truncated=False)
        else:
            return _compare(name, mine, events, truncated=True)
    return ProviderView(
        name,
        note=f"{registry.label(name)}'s billing view needs an ADMIN key (none of the configured keys is one)",
    )


def _compare(
    name: str, mine: list[JobRecord], events: list[fal_billing.BilledEvent], *, truncated: bool
) -> ProviderView:
    ours = {r.request_id: r for r in mine}
    billed = {e.request_id: e for e in events}
    disagree = []
    for rid, event in billed.items():
        row = ours.get(rid)
        if row is not None and row.cost is not None and abs(row.cost - event.amount) > TOLERANCE:
            disagree.append({"request_id": rid, "genctl": row.cost, "provider": event.amount})
    only_genctl = [rid for rid, r in ours.items() if (r.cost or 0) > TOLERANCE and rid not in billed]
    return ProviderView(
        name,
        amount=round(sum(e.amount for e in events), DIGITS),
        requests=len(events),
        disagree=disagree,
        only_provider=[rid for rid in billed if rid not in ours],
        only_genctl=only_genctl,
        truncated=truncated,
    )


def summary(view: ProviderView, recorded: Total) -> list[str]:
    """The lines the CLI prints for one provider."""
    label = registry.label(view.provider)
    lines = [f"{label}: genctl recorded {recorded.jobs} job(s), {recorded.text()}"]
    if view.amount is None:
        lines.append(f"{label}: {view.note}")
        return lines
    lines.append(f"{label}: billed {view.requests} request(s), {money_text(view.amount)} (billing events)")
    for item in view.disagree:
        lines.append(
            f"{label}: {item['request_id']} disagrees: genctl {money_text(item['genctl'])},"
            f" {label} {money_text(item['provider'])}"
        )
    if view.only_provider:
        lines.append(f"{label}: {len(view.only_provider)} billed request(s) are not in genctl's history")
    if view.only_genctl:
        lines.append(f"{label}: {len(view.only_genctl)} job(s) genctl recorded have no billing event (yet)")
    if view.truncated:
        lines.append(f"{label}: stopped after {fal_billing.MAX_PAGES} pages of billing events")
    if view.agrees:
        lines.append(f"{label}: genctl's record and {label}'s agree")
    return lines
