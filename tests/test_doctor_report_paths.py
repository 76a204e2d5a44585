"""Where `doctor --report` writes: a missing folder is an error (never created silently), a full device
is an error (never "Report written"), an existing report is replaced whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genctl.sandbox import Sandbox
from tests.support import fal_env


def test_a_report_into_a_missing_folder_is_refused(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "x.md"
    run = genctl("doctor", "--offline", "--report", str(target), env=fal_env(sandbox))
    assert run.exit_code == 2
    assert run.stderr.splitlines()[-2:] == [
        f"Error [usage.invalid]: Cannot write the report to {target}: the folder {target.parent} "
        "does not exist.",
        f"Fix: Create it first (mkdir -p {target.parent}), or choose another --report path.",
    ]
    assert not (tmp_path / "no").exists()


def test_a_report_under_a_file_is_refused(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    run = genctl("doctor", "--offline", "--report", str(tmp_path / "file" / "x.md"), env=fal_env(sandbox))
    assert run.exit_code == 2
    assert f"the folder {tmp_path / 'file'} is not a folder." in run.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_report_to_a_full_device_is_an_error_not_written(genctl, sandbox: Sandbox) -> None:
    run = genctl("doctor", "--offline", "--report", "/dev/full", env=fal_env(sandbox))
    assert run.exit_code == 2
    assert (
        "Error [usage.invalid]: Cannot write the report to /dev/full: No space left on device" in run.stderr
    )
    assert "Report written" not in run.stderr


def test_an_existing_report_is_replaced_whole(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old report\n" * 10_000)
    run = genctl("doctor", "--offline", "--report", str(target), env=fal_env(sandbox))
    assert run.exit_code in (0, 1)
    text = target.read_text()
    assert text.startswith("# ") and "old report" not in text
    assert run.stderr.endswith(f"Report written to {target}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no temp file left beside it
