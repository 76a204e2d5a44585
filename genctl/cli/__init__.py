"""The genctl app: the root group, its options, and the one error handler (`main`).

Only Typer is imported here. The commands are listed in genctl/cli/tree.py and each is imported and built
when argv names it; each command imports the core (httpx, the SDKs) inside its function, so
`genctl --help` stays fast.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Annotated, Any, NoReturn

import typer

from genctl import __version__
from genctl.cli import tree
from genctl.cli.output import out, whole
from genctl.errors import GenctlError, error

# The signals that end genctl like Ctrl-C: `timeout`, `docker stop`, Kubernetes and CI cancellation send
# TERM, a closed terminal HUP, a reader that left PIPE. Each becomes a KeyboardInterrupt, so the core
# cancels the running job and records it as for Ctrl-C; the exit code is then 128 + the signal.
SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE") if hasattr(signal, name)
)
_received: list[int] = []
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EBADF, errno.EFBIG, errno.EDQUOT})


class Signalled(KeyboardInterrupt):
    """A signal that ends genctl, raised in the main thread by its handler."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_finished = threading.Event()  # the command has returned: a late signal changes nothing any more


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if whole.busy():  # a line is being written: raise once it is out whole
        whole.defer(lambda: _on_signal(signum, frame))
        return
    if _received or _finished.is_set():
        return  # already stopping (let the cancel under way finish), or done
    _received.append(signum)
    raise Signalled(signum)


def _watch_reader() -> None:
    """When stdout is a pipe, notice its reader leaving (`| head -1`) while genctl still works, and stop
    as SIGPIPE would, at once: the running job is cancelled instead of running on until the next write.
    Linux and macOS report POLLERR on a pipe's write end once the read end is closed."""
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    import select
    import stat

    try:
        if not stat.S_ISFIFO(os.fstat(1).st_mode) or not hasattr(select, "poll"):
            return
    except OSError:
        return
    poller = select.poll()
    poller.register(1, 0)  # POLLERR and POLLHUP are always reported

    def watch() -> None:
        while not _finished.is_set():
            if any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(250)):
                if not _finished.is_set():
                    os.kill(os.getpid(), signal.SIGPIPE)
                return

    threading.Thread(target=watch, name="genctl-stdout-reader", daemon=True).start()


class _Group(tree.LazyGroup):
    """The root group, its commands built as they are looked up (`tree.py`): the one place a GenctlError
    becomes `Error: …` / `Fix: …` and its exit code."""

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
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Signalled) else None
            _report(error("interrupted", "Interrupted.", details={"signal": signum} if signum else None))
        except OSError as exc:
            if not _stdout_failed(exc):
                raise
            _report(_stdout_error(exc))


def _stdout_failed(exc: OSError) -> bool:
    """Whether `exc` is a failed write of results: raised in the output sink, with a write's errno."""
    if isinstance(exc, BrokenPipeError):
        return True
    tb: TracebackType | None = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    return exc.errno in _WRITE_ERRNOS and any(
        name.endswith(os.path.join("cli", "output.py")) for name in frames
    )


def _stdout_error(exc: OSError) -> GenctlError:
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        _silence_stdout()
        return error(
            "interrupted",
            "stdout was closed (the reader went away): not every result reached it.",
            fix="Read the whole output (e.g. `| tail` instead of `| head`), or write it to a file.",
            details={"signal": int(getattr(signal, "SIGPIPE", 13))},
        )
    _silence_stdout()
    return error(
        "usage.invalid",
        f"Cannot write the results to stdout: {exc.strerror or exc}.",
        fix="Send stdout somewhere that can take it (a disk with free space, an open pipe).",
    )


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so nothing (the --json error, Python's flush at exit) writes there again."""
    out.configure(json_mode=False)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def exit_code(err: GenctlError) -> int:
    """The error's exit code; 128 + the signal for one that a signal ended (TERM 143, HUP 129, PIPE 141)."""
    signum = err.details.get("signal") if err.code == "interrupted" else None
    if not isinstance(signum, int) and err.code == "interrupted" and _received:
        signum = _received[0]
    return 128 + signum if isinstance(signum, int) else err.exit_code


def _usage_failure(exc: Exception, argv: list[str], root: Any = None) -> int:
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
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
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        import traceback

        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        from genctl.http import redact_sent

        # the chain quotes httpx's own texts (a status line a server sent back): mask every key sent (#12)
        sys.stderr.write(redact_sent(traceback.format_exc()))
    if err.details.get("signal") == int(getattr(signal, "SIGPIPE", 13)):
        _silence_stdout()  # the reader left: the --json error would only break the pipe again
    try:
        out.error(err)
    except OSError:  # stdout cannot take the --json error: say it on stderr alone
        _silence_stdout()
        out.error(err)
    raise typer.Exit(exit_code(err)) from err


app = typer.Typer(
    cls=_Group,
    name="genctl",
    help="""Generate images, video and audio on fal.ai and Replicate, and diagnose why a call failed.

    Examples:

        genctl generate --sandbox "a lighthouse at dusk"

        genctl models flux

        genctl doctor
    """,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    **tree.SETTINGS,
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
    # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
    from genctl.cli import common

    common.options.config_path = config


def main() -> None:
    """Console-script entry point: signals handled, stdout checked, and an exit that nothing holds up."""
    for signum in SIGNALS:
        signal.signal(signum, _on_signal)
    if sys.stdout is None:  # started with stdout closed (`>&-`): results would be lost after paying
        sys.stderr.write(
            "Error [usage.invalid]: stdout is closed, so results cannot be written; nothing was done.\n"
            "Fix: Give genctl a stdout (a file, a pipe, /dev/null).\n"
        )
        raise SystemExit(2)
    _watch_reader()
    try:
        app(prog_name="genctl")
        code: int | str | None = 0
    except SystemExit as done:
        code = done.code
    _finished.set()
    try:
        sys.stdout.flush()  # exit 0 only once every result has reached stdout
    except OSError as exc:
        failure = _stdout_error(exc)
        out.error(failure)
        code = exit_code(failure)
    _exit(code)


def _exit(code: int | str | None) -> NoReturn:
    """Exit now: streams flushed and exit handlers run (history's connections closed, logging shut down),
    then the process ends. Threads left behind (a doctor probe past its deadline, a pool inside it) are
    not waited for, and the interpreter's own teardown is skipped: freeing every module of a generation
    took ~30 ms after the result was out (benchmarks/time_to_result.py)."""
    if isinstance(code, str):  # SystemExit("message"): what Python would print, and its exit code
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(code + "\n")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))
