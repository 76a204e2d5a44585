"""Shared fixtures: a hermetic environment, a sandbox on loopback, and ways to run genctl (in-process and as a
real subprocess)."""

from __future__ import annotations

import compileall
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyte
import pytest
from typer.testing import CliRunner

from genctl.sandbox import Sandbox


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile genctl to bytecode once, before the hundreds of `python -m genctl` processes the suite starts.

    With PYTHONDONTWRITEBYTECODE set (as on our CI machines) nothing writes `__pycache__`, and every process
    compiles each module it imports again: 0.2 s of CPU for `--help`, 0.3 s more for a generation. compileall
    writes anyway, and skips what is already up to date. (The dependencies: `uv sync --compile-bytecode` in
    .ci/run.)
    """
    compileall.compile_dir(Path(__file__).parent.parent / "genctl", quiet=2)


_SCRUB_PREFIXES = ("FAL_", "REPLICATE_", "GENCTL_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No stray keys or config from the developer's machine; GENCTL_HOME in tmp; no colour."""
    for name in list(os.environ):
        if name.upper().startswith(_SCRUB_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "genctl-home"
    monkeypatch.setenv("GENCTL_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def disk_fills(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while an output is written (what no check before the submit can see): every
    os.fsync fails with ENOSPC, as a full disk does when the data reaches it. The OS is faked, not genctl."""
    import errno

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh emulator of both providers on a free loopback port."""
    with Sandbox() as box:
        yield box


@dataclass
class Run:
    """What one genctl invocation produced."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@pytest.fixture
def genctl(monkeypatch: pytest.MonkeyPatch) -> object:
    """Run genctl in-process with CliRunner: `genctl("generate", "a fox", env={...}, input="...")`."""
    from genctl.cli import app

    def run(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Run:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


def run_subprocess(
    *args: str, env: Mapping[str, str] | None = None, input: str | None = None, timeout: float = 60
) -> Run:
    """Run `python -m genctl ARGS` as a real process with the test's environment plus `env`."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "genctl", *args],
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class TtyRun:
    """A genctl run whose stderr was a terminal: `screen` is what it drew there."""

    exit_code: int
    stdout: str
    screen: str


def run_on_tty(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> TtyRun:
    """Run `python -m genctl ARGS` with stderr on a pseudo-terminal (colour on), stdout piped."""

    master, slave = pty.openpty()
    inherited = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}  # NO_COLOR only when `env` says
    full_env = {**inherited, **(env or {}), "TERM": "xterm"}
    with subprocess.Popen(
        [sys.executable, "-m", "genctl", *args], stdout=subprocess.PIPE, stderr=slave, env=full_env, text=True
    ) as proc:
        os.close(slave)
        stdout, _ = proc.communicate(timeout=timeout)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
    return TtyRun(proc.returncode, stdout, b"".join(chunks).decode(errors="replace"))


@dataclass
class Terminal:
    """What one genctl run drew on a terminal (stdout and stderr on one pty, as in a shell), or with
    `stdout_tty=False` stderr alone on the pty and stdout piped (`genctl … > file`)."""

    exit_code: int
    raw: str  # the bytes the terminal received, escape sequences included
    stdout: str  # piped stdout ("" when stdout was the terminal)

    columns: int = 80

    @property
    def screen(self) -> list[str]:
        """The lines left on the terminal once genctl exited, as a person sees them: a VT emulator (pyte)
        replays every byte, so a spinner frame that was erased is gone and one that was not stays."""
        return self._replay(self.columns)

    @property
    def lines(self) -> list[str]:
        """The same screen with the terminal's own wrapping of long lines undone: one entry per line
        genctl wrote (replayed on a very wide terminal; what genctl wrapped itself stays wrapped)."""
        return self._replay(2000)

    def _replay(self, columns: int) -> list[str]:
        screen = pyte.Screen(columns, 500)
        stream = pyte.Stream(screen)
        stream.feed(self.raw.replace("\r\n", "\n").replace("\n", "\r\n"))
        lines = [line.rstrip() for line in screen.display]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    @property
    def colour(self) -> bool:
        """Whether genctl drew in colour (an SGR colour sequence reached the terminal)."""
        return re.search(r"\x1b\[(?:[0-9;]*;)?3[0-9](?:;[0-9;]*)?m", self.raw) is not None


def run_in_terminal(
    *args: str,
    env: Mapping[str, str] | None = None,
    columns: int = 80,
    stdout_tty: bool = True,
    answer: str | None = None,
    interrupt_when: str | None = None,
    timeout: float = 60,
) -> Terminal:
    """Run `python -m genctl ARGS` in a pseudo-terminal of `columns` columns with colour on
    (TERM=xterm-256color, no NO_COLOR), stdin on the terminal too; `answer` is typed when genctl asks;
    once `interrupt_when` has been drawn, genctl gets the SIGINT that Ctrl-C sends."""

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    full_env = {**os.environ, **(env or {}), "TERM": "xterm-256color", "COLUMNS": str(columns)}
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "genctl", *args],
        stdin=slave,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave,
        env=full_env,
        start_new_session=True,
    )
    os.close(slave)
    piped: list[bytes] = []
    reader = threading.Thread(target=lambda: piped.append(proc.stdout.read() if proc.stdout else b""))
    reader.start()
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    answered = answer is None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal closed it
                    break
                if not data:
                    break
                chunks.append(data)
                if not answered and b"?" in data:
                    os.write(master, answer.encode() + b"\r")  # type: ignore[union-attr]
                    answered = True
                if interrupt_when is not None and interrupt_when.encode() in b"".join(chunks):
                    proc.send_signal(signal.SIGINT)
                    interrupt_when = None
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"genctl {' '.join(args)} still running after {timeout} s")
        proc.wait(timeout=timeout)
        reader.join(timeout)
    finally:
        os.close(master)
        if proc.stdout:
            proc.stdout.close()
    raw = b"".join(chunks).decode(errors="replace")
    return Terminal(proc.returncode, raw, b"".join(piped).decode(), columns)


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """For the config tests: GENCTL_HOME is tmp_path itself, and no --config left from an earlier run."""
    from genctl.cli import common

    monkeypatch.setenv("GENCTL_HOME", str(tmp_path))
    monkeypatch.setattr(common.options, "config_path", None)
    return tmp_path
