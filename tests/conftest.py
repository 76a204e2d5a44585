"""Shared fixtures: a hermetic environment, a sandbox on loopback, and ways to run genctl (in-process and as a
real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genctl.sandbox import Sandbox

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
    import pty

    master, slave = pty.openpty()
    full_env = {**os.environ, **(env or {}), "TERM": "xterm"}
    full_env.pop("NO_COLOR", None)
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


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """For the config tests: GENCTL_HOME is tmp_path itself, and no --config left from an earlier run."""
    from genctl.cli import common

    monkeypatch.setenv("GENCTL_HOME", str(tmp_path))
    monkeypatch.setattr(common.options, "config_path", None)
    return tmp_path
