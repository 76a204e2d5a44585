"""The CLI side of what jobs cost: `genctl history`'s cost column and totals, and `genctl usage`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from genctl.cli.common import JsonOpt, QuietOpt
from genctl.cli.output import out

if TYPE_CHECKING:
    from genctl.history import JobRecord


def since_filter(rows: list[JobRecord], since: str | None, now: float) -> list[JobRecord]:
    """The rows submitted at or after `--since` (all of them without it)."""
    if since is None:
        return rows
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.spend import since as cutoff

    start = cutoff(since, now)
    return [row for row in rows if row.submitted_at >= start]


def cost_cell(row: JobRecord) -> str:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.spend import row_cost, short_text

    return short_text(row_cost(row.cost_detail))


def print_cost(detail: dict[str, Any] | None) -> None:
    """A recorded cost on stderr (`$0.025 · 1 image`), when history has one."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.spend import row_cost

    cost = row_cost(detail)
    if cost is not None:
        out.info(cost.text())


def totals_json(rows: list[JobRecord]) -> dict[str, Any]:
    groups, grand = _totals(rows)
    whole = {k: v for k, v in grand.to_json().items() if k not in ("provider", "model")}
    return {**whole, "by_model": [g.to_json() for g in groups]}


def print_totals(rows: list[JobRecord]) -> None:
    """The cost per provider and model, and the total, as a table titled `cost` on stdout."""
    groups, grand = _totals(rows)
    lines = [[g.provider, g.model, str(g.jobs), g.text()] for g in groups]
    lines.append(["total", "", str(grand.jobs), grand.text()])
    out.table(["provider", "model", "jobs", "cost"], lines, title="cost", keep=(1,))


def _totals(rows: list[JobRecord]) -> Any:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.spend import row_cost, totals

    return totals([(row.provider, row.model, row_cost(row.cost_detail)) for row in rows])


def usage_command(
    since: Annotated[
        str,
        typer.Option(
            "--since", help="The period: since 24h, 7d, 30m or a date (2026-12-01).", metavar="WHEN"
        ),
    ] = "24h",
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """What jobs cost: genctl's record next to the provider's own (fal: billing events, ADMIN key).

    Examples:

        genctl usage

        genctl usage --since 7d --json
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import time

    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.cli.config import settings_for_cli
    from genctl.history import History
    from genctl.http import make_client
    from genctl.spend import since as cutoff
    from genctl.spend_usage import summary, usage

    out.configure(json_mode=json_, quiet=quiet)
    settings = settings_for_cli()
    end = time.time()
    start = cutoff(since, end)
    rows = History().recent(limit=None)
    with make_client(timeout=30.0, connect_timeout=10.0) as client:
        report = usage(settings, rows, start=start, end=end, client=client)
    if json_:
        out.json(report.to_json())
        return
    for view in report.views:
        for line in summary(view, report.recorded[view.provider]):
            out.result(line)
