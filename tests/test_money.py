"""Nothing paid for is lost or paid twice: the output folder is checked before the submit, a job whose
status cannot be read stays pending, and results that cannot reach stdout fail the command."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from genctl.history import History
from genctl.sandbox import Fault, Sandbox
from tests.test_generate import fal_env

FAL = ("-m", "fal-ai/flux/schnell")


def test_an_output_folder_that_is_a_file_stops_before_anything_is_paid(genctl, sandbox: Sandbox) -> None:
    Path("taken").write_text("a file")
    run = genctl("generate", "a fox", *FAL, "-o", "taken", env=fal_env(sandbox))
    assert run.exit_code == 2
    assert run.stderr.splitlines()[-2:] == [
        "Error [usage.invalid]: The output folder taken is a file; nothing was submitted.",
        "Fix: Give -o a folder (it is created if missing), not a file.",
    ]
    assert sandbox.count(method="POST", host="fal.queue") == 0 and History().recent() == []


def test_a_status_that_keeps_failing_leaves_the_job_pending_not_failed(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.stream_refused(404))  # no status stream: the job is polled
    sandbox.inject(Fault.unavailable("fal.queue", 503, path=r"/status$"))
    run = genctl("generate", "a fox", *FAL, "--json", env=fal_env(sandbox))
    assert run.exit_code == 7
    err = json.loads(run.stdout)["error"]
    rid = err["request_id"]
    assert err["code"] == "provider.unavailable" and err["details"]["pending"] is True
    assert err["fix"] == f"`genctl result {rid} --wait` finishes it and saves its outputs."
    assert f"The job {rid} was accepted and may still be running (and billing)" in err["message"]
    [row] = History().recent()
    assert row.pending and row.error_code is None
    assert sandbox.cancels == []


def test_a_429_that_a_retry_resolved_leaves_the_key_usable_for_the_next_run(genctl, sandbox: Sandbox) -> None:
    # No Retry-After: the key would cool for the default 30 s, far past the quick retry that succeeded.
    sandbox.inject(Fault.rate_limited("fal.queue", retry_after=None, method="POST", times=1))
    first = genctl("generate", "a fox", *FAL, "--json", env=fal_env(sandbox))
    assert first.exit_code == 0, first.stderr
    assert sandbox.count(method="POST", host="fal.queue", status=429) == 1
    status = genctl("keys", "status", "--provider", "fal", "--json", env=fal_env(sandbox))
    [key] = json.loads(status.stdout)["providers"]["fal"]["keys"]
    assert (key["state"], key["until"]) == ("usable", None)
    second = genctl("generate", "a fox", *FAL, "--json", env=fal_env(sandbox))
    assert second.exit_code == 0, second.stderr
    assert "rate limited" not in second.stderr
    assert sandbox.count(method="POST", host="fal.queue", status=200) == 2


def refused_before_submit(genctl, sandbox: Sandbox, folder: Path) -> list[str]:  # type: ignore[no-untyped-def]
    run = genctl("generate", "a fox", *FAL, "-o", str(folder), env=fal_env(sandbox))
    assert run.exit_code == 2, run.stderr
    assert sandbox.count(method="POST", host="fal.queue") == 0 and History().recent() == []
    return run.stderr.splitlines()[-2:]


def test_an_output_folder_that_cannot_be_written_stops_before_anything_is_paid(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    if os.geteuid() == 0:  # root writes through any mode bits: /sys refuses even root a new folder
        folder, said, refusing = Path("/sys/genctl-out"), "Operation not permitted", Path("/sys")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        folder, said, refusing = locked / "out", "Permission denied", locked
    assert refused_before_submit(genctl, sandbox, folder) == [
        f"Error [usage.invalid]: Cannot write in the output folder {folder}: {said}; nothing was submitted.",
        f"Fix: Make {refusing} writable (chmod u+w), or choose another folder with -o.",
    ]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs: a disk with almost no free space (needs the right to mount)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_an_output_folder_on_a_full_disk_stops_before_anything_is_paid(
    genctl, sandbox: Sandbox, tiny_disk: Path
) -> None:
    assert refused_before_submit(genctl, sandbox, tiny_disk) == [
        f"Error [usage.invalid]: Cannot write in the output folder {tiny_disk}: No space left on device;"
        " nothing was submitted.",
        "Fix: Free some space, or choose another folder with -o.",
    ]
