"""`genctl --help` and `--version` stay fast: they import neither httpx nor the provider SDKs."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("httpx", "fal_client", "replicate", "pydantic")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["generate", "--help"],
        ["sandbox", "--help"],
        ["models", "--help"],
        ["history", "--help"],
        ["result", "--help"],
        ["doctor", "--help"],
    ],
)
def test_help_and_version_import_no_http_stack(args: list[str]) -> None:
    code = (
        "import sys\nfrom genctl.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_version_prints_the_version() -> None:
    from genctl import __version__

    proc = subprocess.run(
        [sys.executable, "-m", "genctl", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout == f"genctl {__version__}\n"
    assert proc.stderr == ""
