"""`genctl history` and `genctl result`: the jobs genctl recorded, and finishing one of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from genctl.cli import spend
from genctl.cli.common import JsonOpt, QuietOpt
from genctl.cli.output import out
from genctl.cli.progress import JobProgress
from genctl.errors import GenctlError, error, usage

if TYPE_CHECKING:
    from genctl.history import History, JobRecord
    from genctl.history.recovery import Recovery
    from genctl.settings import Settings

STATUSES = ("pending", "succeeded", "failed")
T = TypeVar("T")


def history_command(
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="Show at most N jobs (0: all).", min=0, metavar="N")
    ] = 20,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only jobs that are pending (unconfirmed, submitted, queued, running), succeeded or failed.",
        ),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Delete every recorded job (asks first; --yes in scripts).")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="With --clear: delete without asking (needed off a terminal).")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only jobs submitted since 24h, 7d, 30m or a date (2026-12-01).", metavar="WHEN"
        ),
    ] = None,
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote",
            help="List the provider's own recent requests instead (every configured key), marking those "
            "genctl never recorded; `genctl result ID` saves their outputs.",
            metavar="PROVIDER",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="With --remote fal: list this endpoint's requests only (else every endpoint).",
        ),
    ] = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List recorded jobs, newest first: request id, status, key label, outputs, prompt.

    Examples:

        genctl history -n 5

        genctl history --status pending --json

        genctl history --remote fal --since 7d -n 50

        genctl history --clear --yes
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.cli.config import settings_for_cli
    from genctl.history import History

    out.configure(json_mode=json_, quiet=quiet)
    settings = settings_for_cli()
    history = History()
    if remote is not None:
        _remote(settings, history, remote, model, since=since, limit=limit, json_mode=json_)
        return
    if clear:
        if not yes and not _confirmed_clear(history, json_mode=json_):
            out.info("Nothing was deleted.")
            return
        cleared = _read(history, lambda: history.clear())
        if json_:
            out.json({"ok": True, "cleared": cleared})
        else:
            out.info(f"Cleared {cleared} job(s) from {history.path}.")
        return
    if status is not None and status not in STATUSES:
        raise usage(f"--status {status!r} is not one of {', '.join(STATUSES)}.", fix="Use --status failed.")
    rows = _read(history, lambda: history.recent(limit=None if since else limit or None, status=status))  # type: ignore[arg-type]
    rows = spend.since_filter(rows, since, history.clock())[: limit or None]
    if json_:
        jobs = [row.to_json() for row in rows]
        out.json({"ok": True, "count": len(rows), "jobs": jobs, "cost": spend.totals_json(rows)})
        return
    if not settings.history_enabled:
        out.info("History is off ([history] enabled = false): new jobs are not recorded.")
    if not rows:
        out.info("No jobs in the history" + (f" with status {status}." if status else "."))
        return
    out.table(
        ["submitted", "request id", "provider", "model", "status", "key", "outputs", "cost", "prompt"],
        [_row(row) for row in rows],
        keep=(1, 3),  # request id and model: what `genctl result` and -m take
    )
    spend.print_totals(rows)


def _remote(
    settings: Settings,
    history: History,
    provider: str,
    model: str | None,
    *,
    since: str | None,
    limit: int,
    json_mode: bool,
) -> None:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.history.remote import list_remote
    from genctl.spend import since as cutoff

    start = None if since is None else cutoff(since, history.clock())
    listing = list_remote(settings, history, provider, model=model, since=start, limit=limit or None)
    if json_mode:
        out.json(listing.to_json())
        return
    for label, err in listing.problems:
        out.info(f"Key {label}: {err.message}" + (f" Fix: {err.fix}" if err.fix else ""))
    if not listing.rows:
        out.info(
            f"No recent {provider} requests"
            + (f" for {model}" if model else "")
            + (f" since {since}." if since else ".")
        )
        return
    out.table(
        ["created", "request id", "model", "status", "key", "in history"],
        [
            [
                r.request.created_at or "-",
                r.request.request_id,
                r.request.model or "-",
                r.request.status,
                r.key_label,
                "yes" if r.recorded else "no",
            ]
            for r in listing.rows
        ],
        keep=(1, 2),
    )


def result_command(
    request_id: Annotated[
        str | None,
        typer.Argument(help="The job's request id (or its start, as in output file names).", metavar="ID"),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir", "-o", help="Where to save outputs (default: where the job was to save them)."
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the job is done, then save its outputs.")
    ] = False,
    pending: Annotated[
        bool,
        typer.Option(
            "--pending",
            help="Find the job of every unconfirmed submit (sent, its answer lost) in the provider's recent "
            "requests, and save its outputs.",
        ),
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="For a fal request genctl never recorded: its endpoint (fal finds requests per endpoint).",
            metavar="ENDPOINT",
        ),
    ] = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Fetch a recorded job's status and outputs again, and save the outputs that are missing.

    A request genctl never recorded (`genctl history --remote PROVIDER` lists them) is looked up with
    every configured key and recorded first: a Replicate prediction by its id, a fal request by its id
    and endpoint (-m).
    """
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.cli.config import settings_for_cli
    from genctl.history import History
    from genctl.history.recovery import recover

    out.configure(json_mode=json_, quiet=quiet)
    if pending == (request_id is not None):
        raise usage(
            "Give either a request id or --pending.",
            fix="genctl result ID (`genctl history` lists them), or genctl result --pending.",
        )
    settings = settings_for_cli()
    history = History()
    if request_id is None:
        _pending(settings, history, output_dir=output_dir, wait=wait, json_mode=json_)
        return
    with JobProgress("Fetching") as progress:
        found = _read(
            history,
            lambda: recover(
                settings,
                request_id,
                output_dir=output_dir,
                wait=wait,
                history=history,
                on_event=progress.event,
                on_bytes=progress.downloaded,
                model=model,
            ),
        )
    _print_recovery(found, json_mode=json_)


def _pending(
    settings: Settings, history: History, *, output_dir: Path | None, wait: bool, json_mode: bool
) -> None:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.history.pending import recover_unconfirmed

    with JobProgress("Looking") as progress:
        done = _read(
            history,
            lambda: recover_unconfirmed(
                settings,
                history=history,
                output_dir=output_dir,
                wait=wait,
                on_event=progress.event,
                on_bytes=progress.downloaded,
            ),
        )
    if json_mode:
        out.json(done.to_json())
        return
    if not done.found and not done.missing:
        out.info("No unconfirmed submits in the history: every job sent has its request id.")
    for found in done.found:
        out.info(f"Found the job of an unconfirmed submit: {found.record.request_id}.")
        _print_recovery(found, json_mode=False)
    for _, err in done.missing:
        out.info(f"Not found: {err.message} Fix: {err.fix}")


def _print_recovery(found: Recovery, *, json_mode: bool) -> None:
    if json_mode:
        out.json(found.to_json())
        return
    rid = found.record.request_id
    if found.status != "succeeded":
        where = f" (queue position {found.queue_position})" if found.queue_position is not None else ""
        out.info(f"{rid} is {found.status}{where}: not done yet; `genctl result {rid} --wait` waits for it.")
        return
    fetched = sum(output.downloaded for output in found.outputs)
    if fetched:
        out.info(f"Saved {fetched} of {len(found.outputs)} output(s) of {rid}.")
    for output in found.outputs:
        if output.path is not None:
            out.result(output.path)
        elif output.url is not None:
            out.result(output.url)
        elif output.value is not None:
            out.result(output.value if isinstance(output.value, str) else _compact(output.value))
    spend.print_cost(found.record.cost_detail)


def _row(row: JobRecord) -> list[str]:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.keys import timestamp

    status = row.status if row.error_code is None else f"{row.status} ({row.error_code})"
    files = [o for o in row.outputs if o.get("url") or o.get("inline")]
    saved = len(files) - len(row.missing_outputs())
    outputs = f"{saved}/{len(files)} saved" if files else "-"
    prompt = (row.prompt or "").replace("\n", " ")
    return [
        timestamp(row.submitted_at),
        row.request_id,
        row.provider,
        row.model,
        status,
        row.key_label or "-",
        outputs,
        spend.cost_cell(row),
        prompt if len(prompt) <= 40 else prompt[:39] + "…",
    ]


def _confirmed_clear(history: History, *, json_mode: bool) -> bool:
    """Ask before deleting every job on a terminal; off one (a script, --json) refuse without --yes."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import sys

    jobs = _read(history, lambda: history.recent(limit=None))
    if not jobs:
        return True  # nothing to lose
    pending = sum(job.pending for job in jobs)
    what = f"all {len(jobs)} recorded job(s)" + (
        f", {pending} of them pending (`genctl result` could still finish those)" if pending else ""
    )
    if json_mode or not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise usage(
            f"--clear would delete {what}; off a terminal genctl does not ask, so it needs --yes.",
            fix="genctl history --clear --yes",
        )
    return typer.confirm(f"Delete {what} from {history.path}?", default=False, err=True)


def _read(history: History, action: Callable[[], T]) -> T:
    """Run `action`; a history database that cannot be read or written becomes a config.invalid error."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import sqlite3

    try:
        return action()
    except GenctlError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise error(
            "config.invalid",
            f"Cannot use the job history {history.path}: {getattr(exc, 'strerror', None) or exc}.",
            fix=f"Check that the folder is writable; a damaged file can be moved aside (mv {history.path} "
            f"{history.path}.bad) and genctl starts a new one.",
        ) from exc


def _compact(value: object) -> str:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import json

    return json.dumps(value, ensure_ascii=False)
