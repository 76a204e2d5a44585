"""`genctl generate --batch FILE`: one overall progress bar, failures as they happen, outputs as they land.

stdout gets each item's saved paths (or, with --json, one JSON line per item: JSON Lines) in the order the
items finish; stderr gets each failure with its code, and a summary. Exit 0 only when every item
succeeded; otherwise the summary is a generation.failed error (exit 1).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl.cli.output import out
from genctl.errors import error, usage

if TYPE_CHECKING:
    from genctl.batch import ItemOutcome
    from genctl.plan import GenerationRequest
    from genctl.settings import Settings


def run_batch_command(
    settings: Settings,
    base: GenerationRequest,
    path: str,
    *,
    concurrency: int | None,
    resume: bool,
    dry_run: bool,
    json_mode: bool,
) -> None:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.batch import read_items, run_batch
    from genctl.generation import dry_run as build_curl

    text, source = _read(path)
    items = read_items(text, base, source=source)
    if resume and not settings.history_enabled:
        raise usage(
            "--resume reads the job history, which is off ([history] enabled = false).",
            fix="Set [history] enabled = true (or remove it) in the config file.",
        )
    if dry_run:
        invalid = next((item.invalid for item in items if item.invalid is not None), None)
        if invalid is not None:
            raise invalid  # a dry run shows every request or none: this one cannot be built
        for item in items:
            planned = build_curl(settings, item.request, on_notice=out.info)
            # One JSON line per item with --json (like the batch's results), else one curl line each.
            if json_mode:
                out.json(planned.to_json())
            else:
                out.result(planned.curl())
        return
    total = len(items)
    finished = 0
    with out.progress() as bars:
        bars.update("Generating", 0, total)

        def on_outcome(outcome: ItemOutcome) -> None:
            nonlocal finished
            finished += 1
            bars.update("Generating", finished, total)
            if outcome.error is not None:
                err = outcome.error
                rid = f" (request {err.request_id})" if err.request_id else ""
                # A model error's fix is its did-you-mean: worth the line (every item fails the same way).
                fix = f" Fix: {err.fix}" if err.exit_code == 4 and err.fix else ""
                out.warn(f"{outcome.item.title()} failed [{err.code}]{rid}: {err.message}{fix}")
            _print_outcome(outcome, json_mode=json_mode)

        summary = run_batch(
            settings,
            items,
            concurrency=concurrency or settings.concurrency,
            resume=resume,
            on_outcome=on_outcome,
            on_notice=out.info,
            on_warning=out.warn,
        )
    if summary.failed:
        codes = Counter(o.error.code for o in summary.failed if o.error is not None)
        again = "run the same command again with --resume: items that succeeded are skipped"
        raise error(
            "generation.failed",
            summary.text(),
            fix=f"Each failure is listed above with its code. Fix those items, then {again}."
            if settings.history_enabled and base.history
            else "Each failure is listed above with its code; fix those items and run them again.",
            details={"total": total, "failed": len(summary.failed), "codes": dict(codes)},
        )
    out.info(summary.text())


def _read(path: str) -> tuple[str, Path | None]:
    if path == "-":
        if sys.stdin.isatty():
            raise usage(
                "--batch - reads the items from stdin, but nothing is piped.",
                fix="genctl generate --batch - < prompts.txt",
            )
        return sys.stdin.read(), None
    source = Path(path).expanduser()
    try:
        return source.read_text(encoding="utf-8"), source
    except FileNotFoundError as exc:
        raise usage(
            f"The batch file {source} does not exist.", fix="Check the path given to --batch."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise usage(f"Cannot read the batch file {source}: {reason}.", fix="Give a UTF-8 text file.") from exc


def _print_outcome(outcome: ItemOutcome, *, json_mode: bool) -> None:
    if json_mode:
        out.json(outcome.to_json())
        return
    for line in _lines(outcome):
        out.result(line)


def _lines(outcome: ItemOutcome) -> list[str]:
    """What an item leaves on stdout in text mode: its saved paths (else URLs), or its request id."""
    if outcome.report is not None:
        report = outcome.report
        if not outcome.item.request.wait:
            return [report.request_id]
        return [
            str(saved.path) if saved.path is not None else (produced.url or _compact(produced.value))
            for saved, produced in zip(report.outputs, report.result.outputs, strict=False)
        ]
    if outcome.recovery is not None:
        return [o.path or o.url or _compact(o.value) for o in outcome.recovery.outputs]
    if outcome.skipped is not None:
        return [o.get("path") or o.get("url") or _compact(o.get("value")) for o in outcome.skipped.outputs]
    return []


def _compact(value: Any) -> str:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
