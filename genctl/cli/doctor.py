"""`genctl doctor`: probe the environment, every key and model at once, and print the diagnosis (or --json,
or a Markdown report with --report). Exit 0 when no check failed, 1 when one did (--strict: or warned),
2 for usage errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from genctl.cli import common
from genctl.cli.output import out
from genctl.errors import GenctlError, usage

if TYPE_CHECKING:
    from genctl.settings import Settings

LIVE_QUESTION = (
    "--live runs one real generation per provider, billed to your account (the cheapest model). Go on?"
)


def doctor(
    provider: common.ProviderOpt = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Check this model (repeatable); only these models are checked."),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Local checks only: send nothing.")] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live", help="Also run one real, billed generation per provider (the cheapest model)."
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before --live (needed in scripts).")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds each HTTP call of a check may take.", min=0.1)
    ] = 10.0,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1).")] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Every check of every area, and each probe's HTTP status, message, request id, time.",
        ),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write a Markdown diagnosis report (no secrets) here."),
    ] = None,
    json_output: common.JsonOpt = False,
) -> None:
    """Diagnose the set-up: environment, connectivity, every key and model; say what is wrong and the fix."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.config import PROVIDERS
    from genctl.doctor import run_doctor
    from genctl.doctor.probes import DoctorOptions

    out.configure(json_mode=json_output)
    if provider is not None and provider not in PROVIDERS:
        raise usage(f"Unknown provider {provider!r}.", fix="Use --provider fal or --provider replicate.")
    if offline and live:
        raise usage("--offline and --live contradict each other.", fix="Drop one of them.")
    if live and not yes:
        live = _confirm_live()
    settings, load_error = _settings()
    options = DoctorOptions(
        providers=(provider,) if provider else tuple(PROVIDERS),
        provider_flag=provider,
        models=tuple(dict.fromkeys(model or ())),
        offline=offline,
        live=live,
        timeout=timeout,
        config_path=common.options.config_path,
    )
    with out.status("Running checks…") as spinner:
        result = run_doctor(
            settings,
            options,
            load_error=load_error,
            strict=strict,
            on_progress=lambda done, total: spinner.update(f"Running checks… {done}/{total}"),
        )
    if report is not None:
        _write_report(report, result, settings)
    if json_output:
        out.json(result.to_json())
    else:
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        from genctl.doctor.report import text_rows

        # Wrapped to the terminal at word boundaries (ids, URLs and codes stay whole); piped, one line each.
        for row in text_rows(result, verbose=verbose):
            out.prose(row.text, indent=row.indent, hang=row.hang)
    if not result.ok:
        raise typer.Exit(1)


def _confirm_live() -> bool:
    """Ask on a terminal; in a script, --live needs --yes (a prompt must never block)."""
    if not _stdin_is_terminal():
        raise usage(
            "--live spends credits and needs confirmation, but there is no terminal to ask on.",
            fix="Add --yes to run the paid generations from a script.",
        )
    if typer.confirm(LIVE_QUESTION, default=False, err=True):
        return True
    out.info("No live generation: running the free checks only.")
    return False


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except ValueError:
        return False


def _settings() -> tuple[Settings, GenctlError | None]:
    """The settings; when the config file cannot be read, env-only settings and that error as a check."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import tempfile

    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.cli.config import settings_for_cli
    from genctl.config import load_settings

    try:
        return settings_for_cli(), None
    except GenctlError as err:
        if err.code != "config.invalid":
            raise
        env = {k: v for k, v in os.environ.items() if k != "GENCTL_CONFIG"}
        with tempfile.TemporaryDirectory(prefix="genctl-doctor-") as folder:
            # A path with no file: the environment's settings alone (a bad env value still stops here).
            settings = load_settings(config_path=Path(folder) / "none.toml", env=env, missing_ok=True)
        return settings, err


def _write_report(path: Path, result: object, settings: Settings) -> None:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.doctor import DoctorReport
    from genctl.doctor.report import markdown
    from genctl.paths import replace_file

    assert isinstance(result, DoctorReport)
    text = markdown(result, settings)
    try:
        if path.exists() and not path.is_file():
            # /dev/stdout, /dev/full, a FIFO: write into it (a failed write is an error), never replace it.
            with path.open("w", encoding="utf-8") as stream:
                stream.write(text)
        else:
            folder = path.parent
            if not folder.is_dir():
                what = "is not a folder" if folder.exists() else "does not exist"
                raise usage(
                    f"Cannot write the report to {path}: the folder {folder} {what}.",
                    fix=f"Create it first (mkdir -p {folder}), or choose another --report path.",
                )
            replace_file(path, text.encode("utf-8"), mode=0o644)  # a reader never sees half a report
    except OSError as exc:
        raise usage(
            f"Cannot write the report to {path}: {exc.strerror or exc}", fix="Choose another --report path."
        ) from exc
    out.info(f"Report written to {path}")
