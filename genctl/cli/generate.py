"""`genctl generate`: parse options, run one generation, print saved paths (or --json)."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from genctl.cli import common
from genctl.cli.common import JsonOpt, QuietOpt
from genctl.cli.output import out
from genctl.cli.progress import JobProgress
from genctl.errors import usage

if TYPE_CHECKING:
    from genctl.generation import GenerationReport
    from genctl.settings import Settings


def generate(
    prompt: Annotated[
        str | None,
        typer.Argument(help="The prompt; `-` reads it from stdin.", show_default=False, metavar="PROMPT"),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Model id (fal-ai/flux/dev, owner/name[:version]) or alias (flux-schnell)."
        ),
    ] = None,
    provider: Annotated[
        str | None,
        common.provider_option(
            "This provider only: no fallback (default: from the model id, else the config)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Model input KEY=VALUE (repeatable); KEY:=JSON forces JSON."),
    ] = None,
    input_: Annotated[
        list[str] | None,
        typer.Option(
            "--input", "-i", help="File input KEY=PATH_OR_URL (repeatable); local files are uploaded."
        ),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Where to save outputs (default: config, else .)."),
    ] = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
    no_download: Annotated[
        bool, typer.Option("--no-download", help="Print output URLs; save nothing.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Give up (and cancel the job) after this many seconds.", min=0.1),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the request as a curl line (key masked); send nothing.")
    ] = False,
    no_validate: Annotated[
        bool,
        typer.Option(
            "--no-validate", help="Skip the pre-flight check of the model and -p values against its schema."
        ),
    ] = False,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Run against the built-in local emulator: no key, no cost.")
    ] = False,
    no_fallback: Annotated[
        bool,
        typer.Option("--no-fallback", help="Never move on to another provider ([defaults] fallback)."),
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait", help="Submit, print the request id and exit; `genctl result ID --wait` ends it."
        ),
    ] = False,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            help="Run every line of FILE (a prompt, or JSON: prompt, model, params, name); `-` reads stdin.",
            metavar="FILE",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", help="--batch: items run at once (default: config, else 4).", min=1, metavar="N"
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="--batch: skip the items that succeeded in an earlier run.")
    ] = False,
    no_history: Annotated[
        bool, typer.Option("--no-history", help="Record nothing in the job history (genctl history).")
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost", help="Refuse to submit when the estimate is over USD (exit 8).", metavar="USD"
        ),
    ] = None,
) -> None:
    """Generate an image, video or audio file from a prompt."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl import http

    http.warm_ssl()  # beside the imports below, on another core
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.cli.config import settings_for_cli
    from genctl.generation import dry_run as build_curl
    from genctl.generation import generate as run
    from genctl.plan import GenerationRequest

    out.configure(json_mode=json_, quiet=quiet)
    _check_batch_options(prompt, batch, concurrency=concurrency, resume=resume)
    request = GenerationRequest(
        prompt=_read_prompt(prompt),
        model=model,
        provider=provider,
        params=list(param or []),
        inputs=list(input_ or []),
        output_dir=output_dir,
        download=not no_download,
        timeout=timeout,
        validate=not no_validate,
        fallback=not no_fallback,
        wait=not no_wait,
        history=not no_history,
        max_cost=max_cost,
    )
    with ExitStack() as stack:
        settings = settings_for_cli()
        if sandbox:
            settings = _start_sandbox(stack, settings)
        if batch is not None:
            # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
            from genctl.cli.batch import run_batch_command

            run_batch_command(
                settings,
                request,
                batch,
                concurrency=concurrency,
                resume=resume,
                dry_run=dry_run,
                json_mode=json_,
            )
            return
        if dry_run:
            planned = build_curl(settings, request, on_notice=out.info)
            if json_:
                out.json(planned.to_json())
            else:
                out.result(planned.curl())
            return
        progress = stack.enter_context(JobProgress())
        report = run(
            settings, request, on_event=progress.event, on_bytes=progress.downloaded, on_notice=out.info
        )
    recorded = settings.history_enabled and request.history
    _print_report(report, json_mode=json_, wait=request.wait, recorded=recorded)


def _check_batch_options(
    prompt: str | None, batch: str | None, *, concurrency: int | None, resume: bool
) -> None:
    if batch is not None and prompt is not None:
        raise usage("Give a PROMPT or --batch FILE, not both.", fix="Put the prompt in the batch file.")
    if batch is None and (concurrency is not None or resume):
        flag = "--resume" if resume else "--concurrency"
        raise usage(f"{flag} only applies to --batch.", fix=f"genctl generate --batch prompts.jsonl {flag} …")


def _print_submitted(report: GenerationReport, *, json_mode: bool, recorded: bool) -> None:
    """--no-wait: the request id on stdout (or JSON), and on stderr how to finish the job."""
    rid = report.request_id
    if json_mode:
        out.json({**report.to_json(), "status": "submitted"})
    else:
        out.result(rid)
    if recorded:
        out.info(f"Submitted; `genctl result {rid} --wait` waits for it and saves its outputs.")
    else:
        out.warn(f"{rid} is not in the history (--no-history), so `genctl result` cannot finish it.")


_EMPTY_PROMPT_FIX = 'Give the prompt in words: genctl generate "a fox", or echo "a fox" | genctl generate -'


def _read_prompt(prompt: str | None) -> str | None:
    """The prompt; `""` and an empty stdin are the same error (a provider would bill an empty prompt)."""
    if prompt is None:
        return None
    if prompt != "-":
        if not prompt.strip():
            raise usage("The prompt is empty.", fix=_EMPTY_PROMPT_FIX)
        return prompt
    if sys.stdin.isatty():
        raise usage(
            "The prompt is `-` but nothing is piped to stdin.", fix='echo "a fox" | genctl generate -'
        )
    try:
        text = sys.stdin.read().strip()
    except UnicodeDecodeError as exc:
        raise usage(
            "The prompt read from stdin is not UTF-8 text.", fix="Pipe it as UTF-8: iconv -t UTF-8 | genctl …"
        ) from exc
    if not text:
        raise usage("The prompt is empty (nothing was read from stdin).", fix=_EMPTY_PROMPT_FIX)
    return text


def _start_sandbox(stack: ExitStack, settings: Settings) -> Settings:
    """Start the emulator on a free loopback port and point both providers at it with its demo keys."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import for_sandbox
    from genctl.sandbox import Sandbox

    box = stack.enter_context(Sandbox())
    out.info(f"Sandbox running at {box.url} (local emulator: no key used, nothing is charged).")
    return for_sandbox(settings, box.env())


def _print_report(
    report: GenerationReport, *, json_mode: bool, wait: bool = True, recorded: bool = True
) -> None:
    if report.fallbacks:
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        from genctl.fallback import served_elsewhere

        out.warn(served_elsewhere(report.fallbacks, report.provider))  # shows in CI logs, even with --quiet
    if not wait:
        _print_submitted(report, json_mode=json_mode, recorded=recorded)
        return
    if json_mode:
        out.json(report.to_json())
        return
    for saved, produced in zip(report.outputs, report.result.outputs, strict=False):
        if saved.path is not None:
            out.result(str(saved.path))
        elif produced.url is not None:
            out.result(produced.url)
        elif produced.value is not None:
            out.result(produced.value if isinstance(produced.value, str) else _compact(produced.value))
    if report.cost is not None:
        out.info(report.cost.text())


def _compact(value: Any) -> str:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import json

    return json.dumps(value, ensure_ascii=False)
