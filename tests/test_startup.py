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


def test_a_piped_generation_never_imports_rich(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Off a terminal there is nothing to draw: progress and the cost line are plain lines, and a script's
    run is spared importing Rich and building its consoles."""
    import os

    from genctl.sandbox import Sandbox
    from genctl.sandbox import keys as sk

    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('rich:', sorted(m for m in sys.modules if m.startswith('rich'))))\n"
        "from genctl.cli import main\n"
        f"sys.argv = ['genctl', 'generate', 'a fox', '-m', 'fal-ai/flux/dev', '-o', {str(tmp_path)!r}]\n"
        "main()"
    )
    with Sandbox() as box:
        env = {**os.environ, **box.env(), "FAL_KEY": sk.FAL_KEY_OK}
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "rich: []"
    assert proc.stderr.splitlines()[-1] == "$0.025 · 1 image"
