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
