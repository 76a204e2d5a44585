"""The one output sink: results to stdout (text or --json), everything else to stderr.

Commands never print. They call `out.result(...)`, `out.json(...)`, `out.table(...)` for data and
`out.info/warn/error` for people; progress displays come from `out.progress()`: live on a TTY (NO_COLOR
only drops the colour), plain occasional lines off one (CI logs), nothing with --quiet.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from genctl.diagnose import Finding
    from genctl.errors import GenctlError


class _Whole:
    """Writes to the terminal that a signal must not cut in two.

    A signal's handler raises in the main thread wherever it is; inside Rich's print that left the line in
    its buffer, and the next print wrote it again (a model log line twice above the error). Handlers ask
    `busy()`; while a write is under way they hand their raise to `defer()`, run once the write is whole.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._deferred: Callable[[], None] | None = None

    def busy(self) -> bool:
        return self._depth > 0

    def defer(self, then: Callable[[], None]) -> None:
        self._deferred = self._deferred or then

    @contextmanager
    def write(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # handlers run in the main thread: only its writes can be cut, and only it may raise
            return
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self._deferred is not None:
            then, self._deferred = self._deferred, None
            then()


whole = _Whole()


class Sink:
    """Where every byte genctl writes goes through."""

    def __init__(self) -> None:
        self.json_mode = False
        self.quiet = False
        self.debug = os.environ.get("GENCTL_DEBUG", "") not in ("", "0", "false")
        self._err_console: Console | None = None
        self._out_console: Console | None = None

    def reset(self) -> None:
        """Back to defaults: called once per invocation by the app callback."""
        _debug_log.stop()
        self.__init__()  # type: ignore[misc]

    def enable_debug(self) -> None:
        """--debug: tracebacks on errors, and the HTTP exchange (keys redacted by genctl.http) on stderr."""
        self.debug = True
        _debug_log.start()

    def configure(self, *, json_mode: bool | None = None, quiet: bool | None = None) -> None:
        if json_mode is not None:
            self.json_mode = json_mode
        if quiet is not None:
            self.quiet = quiet

    # -- decisions --------------------------------------------------------------------------------

    @property
    def color(self) -> bool:
        return "NO_COLOR" not in os.environ and _isatty(sys.stderr)

    @property
    def live(self) -> bool:
        """Whether spinners and progress bars may draw: stderr is a TTY and not --quiet (NO_COLOR takes
        the colour away, not the progress)."""
        return _isatty(sys.stderr) and not self.quiet

    @property
    def plain_progress(self) -> bool:
        """Off a TTY (CI logs), progress is plain lines on stderr: state changes and model logs, no
        spinner frames or carriage returns; --quiet silences them."""
        return not _isatty(sys.stderr) and not self.quiet

    def stderr(self) -> Console:
        # Rebuilt when the stream changes (the test runner swaps sys.stderr per invocation). A live display
        # swaps it too, for a proxy of this very console's file: a console built on the proxy would print
        # past the live display's cursor handling, leaving a spinner frame above each line.
        stream = getattr(sys.stderr, "rich_proxied_file", sys.stderr)
        if self._err_console is None or self._err_console.file is not stream:
            # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
            from rich.console import Console

            self._err_console = Console(
                file=stream,
                no_color=not self.color,
                highlight=False,
                soft_wrap=True,
                # A terminal stays one with NO_COLOR (spinners still draw, without colour); off a TTY, never.
                force_terminal=None if _isatty(sys.stderr) else False,
            )
        return self._err_console

    def _stdout(self) -> Console:
        if self._out_console is None or self._out_console.file is not sys.stdout:
            # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
            from rich.console import Console

            tty = _isatty(sys.stdout)
            self._out_console = Console(
                file=sys.stdout,
                no_color="NO_COLOR" in os.environ or not tty,
                highlight=False,
                soft_wrap=True,
                # Piped into a file or a CI log there is no terminal width to respect: rich would assume 80
                # columns and fold every cell. COLUMNS still wins when set.
                width=None if tty or os.environ.get("COLUMNS") else 200,
            )
        return self._out_console

    # -- results (stdout) -------------------------------------------------------------------------

    def result(self, line: str) -> None:
        """One line of plain result text (a path, an id)."""
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def prose(self, line: str, *, indent: int = 0, hang: int = 2) -> None:
        """A line of words on stdout, wrapped at word boundaries to the terminal (ids and URLs are never
        broken; continuation lines indented by `indent + hang`); piped, one line as it is."""
        if not _isatty(sys.stdout):
            self.result(" " * indent + line)
            return
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        import textwrap

        lines = textwrap.wrap(
            line,
            width=max(self._stdout().width, 40),
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + hang),
            break_long_words=False,
            break_on_hyphens=False,
        )
        for text in lines or [" " * indent]:
            self.result(text)

    def json(self, data: Any) -> None:
        """One JSON document on stdout: always valid JSON (a non-finite number, which JSON cannot hold,
        is written as null rather than as `NaN` / `Infinity` that parsers reject)."""
        sys.stdout.write(json.dumps(_finite(data), ensure_ascii=False, default=str, allow_nan=False) + "\n")
        sys.stdout.flush()

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str | None = None,
        keep: Sequence[int] = (0,),
    ) -> None:
        """A table on a terminal; plain tab-separated lines (no header, like gh) when stdout is not one.

        The `keep` columns (ids, parameter names: what people copy) are never cut or wrapped; the others
        wrap, and when even that cannot fit the terminal the rightmost of them are left out. Piped, a
        title becomes the first field of each line, so rows of several tables stay apart.
        """
        cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
        if not _isatty(sys.stdout):
            for row in cells:
                fields = [title, *row] if title else row
                self.result("\t".join(" ".join(field.split()) for field in fields))
            return
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        from rich.table import Table
        from rich.text import Text

        console = self._stdout()
        shown = _fitting(columns, cells, keep, console.width)
        if shown is None:  # the whole ids alone are wider than the terminal: one block per row instead
            self._records(columns, cells, title=title)
            return
        table = Table(title=title, show_edge=False, header_style="bold" if self.color else "")
        for index in shown:
            width = _natural(columns, cells, index)
            if index in keep:
                table.add_column(columns[index], no_wrap=True, min_width=width)
            else:
                table.add_column(columns[index], overflow="fold", min_width=min(width, _MIN_CELL))
        for row in cells:
            # Text, not markup: a cell like "FLUX.1 [dev]" must print its brackets.
            table.add_row(*(Text(row[index]) for index in shown))
        console.print(table)
        if len(shown) < len(columns):
            left_out = ", ".join(columns[i] for i in range(len(columns)) if i not in shown)
            self.info(f"({left_out} left out to fit {console.width} columns; --json has everything)")

    def _records(self, columns: Sequence[str], cells: list[list[str]], *, title: str | None) -> None:
        """A table too wide for the terminal as blocks: the first cell, then `column: value` lines."""
        if title:
            self.result(title)
        for row in cells:
            self.result(row[0])
            for column, cell in zip(columns[1:], row[1:], strict=True):
                if cell:
                    self.result(f"  {column}: {cell}")

    # -- people (stderr) --------------------------------------------------------------------------

    def info(self, message: str) -> None:
        if not self.quiet:
            if _isatty(sys.stderr):
                with whole.write():
                    self.stderr().print(message, markup=False)
            else:
                _plain_line(message)

    def log_line(self, message: str) -> None:
        """A model's log line, dimmed, above a live status line."""
        with whole.write():
            self.stderr().print(message, markup=False, style="dim" if self.color else None)

    def warn(self, message: str) -> None:
        """Warnings show even with --quiet: they say something is off."""
        self._say(("Warning:", "yellow"), (f" {message}", None))

    def error(self, err: GenctlError) -> None:
        """Render a failure: JSON on stdout with --json (the contract), and always text on stderr, through
        the same Finding every command shows a problem with (genctl.diagnose)."""
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        from genctl.diagnose import from_error

        if self.json_mode:
            self.json({"ok": False, "error": err.to_json()})
        self.finding(from_error(err), heading="Error")

    def finding(self, finding: Finding, *, heading: str | None = None) -> None:
        """A problem on stderr: `Error [code]: message`, its request id, `Fix: …` (heading by its status)."""
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        from genctl.diagnose import HEADINGS

        word = heading or HEADINGS[finding.status]
        self._say(
            (word, "bold red" if word == "Error" else "yellow"),
            (f" [{finding.code}]: {finding.message}", None),
        )
        if request_id := finding.details.get("request_id"):
            self._say((f"Request id: {request_id}", None))
        if finding.fix:
            self._say(("Fix:", "bold"), (f" {finding.fix}", None))

    def _say(self, *parts: tuple[str, str | None]) -> None:
        """One line on stderr built from (text, style) parts. Always a rich Text, never markup: what genctl
        says is full of brackets (`[payload.invalid]`, `FLUX.1 [dev]`, `[sandbox:latency=2]`) that Rich would
        read as style tags and drop."""
        if not _isatty(sys.stderr):
            _plain_line("".join(chunk for chunk, _ in parts))
            return
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        from rich.text import Text

        line = Text()
        for chunk, style in parts:
            line.append(chunk, style=style if self.color else None)
        with whole.write():
            self.stderr().print(line)

    @contextmanager
    def status(self, text: str | RenderableType) -> Iterator[Any]:
        """A spinner on a TTY; nothing otherwise. Yields an object with `.update(text)`."""
        if not self.live:
            yield _NullStatus()
            return
        with self.stderr().status(text) as status:
            yield status

    @contextmanager
    def progress(self) -> Iterator[Any]:
        """Progress bars on a TTY, one per task; nothing otherwise. Yields `.update(task, done, total)`.

        `update` may be called from worker threads (Rich's Progress takes its own lock); a total of None
        draws an indeterminate bar.
        """
        if not self.live:
            yield _NullProgress()
            return
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        # Results printed while the bars draw must still reach stdout: Rich would reroute them to the
        # stderr console, so that is left to when stdout is the same terminal (they then print above).
        redirect = _isatty(sys.stdout)
        with Progress(*columns, console=self.stderr(), transient=True, redirect_stdout=redirect) as bars:
            yield _Bars(bars)


class _Bars:
    def __init__(self, bars: Any) -> None:
        # Lazy import, for start-up: `genctl --help` loads only what it needs (tests/test_startup.py).
        import threading

        self._bars = bars
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def update(self, task: str, done: int, total: int | None) -> None:
        with self._lock:
            if task not in self._tasks:
                self._tasks[task] = self._bars.add_task(task, total=total)
            self._bars.update(self._tasks[task], completed=done, total=total)


class _NullProgress:
    def update(self, task: str, done: int, total: int | None) -> None:
        return None


class _DebugLog:
    """Routes the core's `genctl.*` loggers to the current stderr while --debug is on."""

    def __init__(self) -> None:
        self._handler: logging.Handler | None = None

    def start(self) -> None:
        self.stop()
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        logger = logging.getLogger("genctl")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        self._handler = handler

    def stop(self) -> None:
        if self._handler is not None:
            logging.getLogger("genctl").removeHandler(self._handler)
            self._handler = None


_debug_log = _DebugLog()


class _NullStatus:
    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


_MIN_CELL = 20  # a wrapping column narrower than this is mostly line breaks: leave it out instead
_GAP = 3  # what Rich puts between two columns (" │ ")


def _natural(columns: Sequence[str], rows: list[list[str]], index: int) -> int:
    return max([len(columns[index]), *(len(row[index]) for row in rows)])


def _fitting(
    columns: Sequence[str], rows: list[list[str]], keep: Sequence[int], width: int
) -> list[int] | None:
    """The column indices to show in `width`: every `keep` column whole and each other one at least
    _MIN_CELL wide (or whole when shorter), leaving out the widest of the others until that fits; None
    when the `keep` columns alone do not fit."""
    shown = list(range(len(columns)))
    natural = [_natural(columns, rows, i) for i in shown]

    def need(indices: list[int]) -> int:
        cells = sum(natural[i] if i in keep else min(natural[i], _MIN_CELL) for i in indices)
        return cells + _GAP * (len(indices) - 1) + 2

    while need(shown) > width:
        others = [i for i in shown if i not in keep]
        if not others:
            return None
        shown.remove(max(others, key=lambda i: (natural[i], i)))
    return shown


# What Rich strips from text it prints (bell, backspace, vertical tab, form feed, carriage return), and ESC:
# a provider's words in a CI log never move the cursor or recolour it.
_CONTROL = str.maketrans(dict.fromkeys((7, 8, 11, 12, 13, 27)))


def _plain_line(text: str) -> None:
    """One line on stderr off a terminal, without Rich: nothing to draw, wrap or colour there, and a piped
    run (every script, every CI log) is spared importing and building a console."""
    sys.stderr.write(text.translate(_CONTROL) + "\n")
    sys.stderr.flush()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


out = Sink()


def _finite(value: Any) -> Any:
    """`value` with every NaN / ±Infinity float replaced by None, through dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
