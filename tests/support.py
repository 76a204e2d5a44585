"""Helpers the test modules share (never import one test_*.py from another): environments pointed at the
sandbox, a tiny PNG, a throw-away fal key, and clocks that only move when told to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK

PNG = b"\x89PNG\r\n\x1a\n"
# A well-formed fal key no server knows: what a test plants and then greps outputs for.
FAL_SECRET = "1b2c3d4e-0000-4000-8000-00000000abcd:9f0e0000000000000000000000007777"


def fal_env(box: Sandbox, key: str = FAL_KEY_OK) -> dict[str, str]:
    return {**box.env(), "FAL_KEY": key}


def replicate_env(box: Sandbox, token: str = REPLICATE_TOKEN_OK) -> dict[str, str]:
    return {**box.env(), "REPLICATE_API_TOKEN": token}


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Clock:
    """A clock that moves only when a test sets `now`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Signalled:
    """What a genctl subprocess printed and returned after a signal."""

    returncode: int
    stdout: str
    stderr: str


def signal_when_seen(
    args: Sequence[str],
    *,
    box: Sandbox,
    env: Mapping[str, str],
    pattern: str,
    count: int = 1,
    sig: signal.Signals = signal.SIGINT,
    wait: float = 20.0,
) -> Signalled:
    """Run `genctl ARGS` as a real process, send `sig` once the sandbox has seen `count` requests whose
    path matches `pattern` (the job is running), and collect what it printed."""
    with subprocess.Popen(
        [sys.executable, "-m", "genctl", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        deadline = time.monotonic() + wait
        while box.count(pattern) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=wait)
    return Signalled(proc.returncode, stdout, stderr)
