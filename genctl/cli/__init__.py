"""The genctl app: composes the command groups and holds the one error handler (`main`).

Only Typer and the command modules are imported here; each command imports the core (httpx, the SDKs)
inside its function, so `genctl --help` stays fast.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from genctl import __version__
from genctl.cli import common
from genctl.cli.config import config_app
from genctl.cli.doctor import doctor
from genctl.cli.generate import generate
from genctl.cli.history import history_command, result_command
from genctl.cli.keys import keys_app
from genctl.cli.models import models_app
from genctl.cli.output import out
from genctl.cli.sandbox import sandbox_app
from genctl.errors import GenctlError, error


class _Group(TyperGroup):
    """The root group: the one place a GenctlError becomes `Error: …` / `Fix: …` and its exit code."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        # Click's own usage errors (unknown option, bad value) get genctl's format and --json object too.
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:
            code = _usage_failure(exc, argv, self)
        except typer.Abort:
            code = _usage_failure(error("interrupted", "Interrupted."), argv)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:  # click's Context, which Typer vendors privately
        try:
            return super().invoke(ctx)
        except GenctlError as err:
            _report(err)
        except KeyboardInterrupt:
            _report(error("interrupted", "Interrupted."))
        except BrokenPipeError:
            # `genctl … | head`: the reader left; nothing more to say.
            raise typer.Exit(0) from None


def _usage_failure(exc: Exception, argv: list[str], root: Any = None) -> int:
    from genctl.cli.usage import asks_for_json, from_click

    if type(exc).__name__ == "NoArgsIsHelpError":  # `genctl generate` alone: the help, as Click shows it
        exc.show()  # type: ignore[attr-defined]
        return 2
    err = exc if isinstance(exc, GenctlError) else from_click(exc, root=root, argv=argv)
    out.configure(json_mode=asks_for_json(argv))
    out.error(err)
    return err.exit_code


def _report(err: GenctlError) -> NoReturn:
    if out.debug:
        traceback.print_exc(file=sys.stderr)
    out.error(err)
    raise typer.Exit(err.exit_code) from err


app = typer.Typer(
    cls=_Group,
    name="genctl",
    help="Generate images, video and audio on fal.ai and Replicate, and diagnose why a call failed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        out.result(f"genctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Config file (default: $GENCTL_CONFIG, else config.toml in the config dir)."
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and HTTP details (keys stay masked).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Generate media on fal.ai and Replicate; find out why a call failed."""
    out.reset()
    if debug or out.debug:
        out.enable_debug()
    common.options.config_path = config


app.command(
    "generate",
    help="Generate an image, video or audio file from a prompt.",
    no_args_is_help=True,
)(generate)
app.command("history", help="List recorded jobs, newest first; --clear deletes them.")(history_command)
app.command("result", help="Fetch a recorded job's outputs again (a killed run, --no-wait).")(result_command)
app.command("doctor", help="Diagnose keys, models and connectivity; say what is wrong and the fix.")(doctor)
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="genctl")
