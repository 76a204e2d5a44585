"""`-i` values that are not regular readable files, and `genctl sandbox serve` that cannot listen: each is
one true line (what the path really is, what is wrong with the address) with its exit code, never a
traceback, and a FIFO is never opened (opening one blocks until something writes to it)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from genctl.errors import CODES
from genctl.sandbox import Sandbox
from tests.conftest import run_subprocess
from tests.support import fal_env

USAGE_EXIT = CODES["usage.invalid"][0]


def _dry_run_with_input(genctl, sandbox: Sandbox, path: str, *extra: str):  # type: ignore[no-untyped-def]
    return genctl(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/dev/image-to-image",
        "-i",
        f"image_url={path}",
        "--dry-run",
        *extra,
        env=fal_env(sandbox),
    )


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: os.mkfifo(p), "is a named pipe (FIFO), not a file; genctl does not read from pipes."),
        (lambda p: p.mkdir(), "is a directory, not a file."),
        (lambda p: None, "does not exist."),
    ],
    ids=["fifo", "directory", "missing"],
)
def test_each_kind_of_path_gets_its_own_true_message(
    genctl, sandbox: Sandbox, tmp_path: Path, make, said
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "input"
    make(path)
    run = _dry_run_with_input(genctl, sandbox, str(path))
    assert run.exit_code == USAGE_EXIT
    assert f"Error [usage.invalid]: Input file {str(path)!r} {said}\n" in run.stderr
    assert "Fix: Pass a regular file you can read, or an http(s):// URL.\n" in run.stderr
    assert run.stdout == ""
    assert "Traceback" not in run.stderr


def test_dev_null_is_a_device_not_a_missing_file(genctl, sandbox: Sandbox) -> None:
    run = _dry_run_with_input(genctl, sandbox, "/dev/null", "--json")
    assert run.exit_code == USAGE_EXIT
    error = json.loads(run.stdout)["error"]
    assert error["code"] == "usage.invalid"
    assert error["message"] == "Input file '/dev/null' is a device, not a file."


def test_a_fifo_never_blocks_a_real_send(sandbox: Sandbox, tmp_path: Path) -> None:
    """As a real process (the timeout is a hang guard, not a timed assertion): no dry run, the job would be
    submitted; the FIFO is refused before anything is sent."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    run = run_subprocess(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/dev/image-to-image",
        "-i",
        f"image_url={fifo}",
        env=fal_env(sandbox),
        timeout=60,
    )
    assert run.exit_code == USAGE_EXIT
    assert "is a named pipe (FIFO), not a file" in run.stderr
    assert [r.method for r in sandbox.requests if r.method == "POST"] == []  # nothing submitted


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file")
def test_an_unreadable_file_says_permission_denied(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "secret.png"
    path.write_bytes(b"x")
    path.chmod(0)
    run = _dry_run_with_input(genctl, sandbox, str(path))
    assert run.exit_code == USAGE_EXIT
    assert (
        f"Error [usage.invalid]: Input file {str(path)!r} cannot be read: permission denied.\n" in run.stderr
    )


def test_a_read_error_is_one_line(
    genctl, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file passes stat but the read fails (as it does for root on some mounts, or an I/O error): the OS
    is faked, not genctl."""
    path = tmp_path / "flaky.png"
    path.write_bytes(b"x")

    def fail(self: Path) -> bytes:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "read_bytes", fail)
    run = _dry_run_with_input(genctl, sandbox, str(path))
    assert run.exit_code == USAGE_EXIT
    assert (
        f"Error [usage.invalid]: Input file {str(path)!r} cannot be read: Input/output error.\n" in run.stderr
    )
    assert "Traceback" not in run.stderr


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_serve_on_a_taken_port_is_one_line(taken_port: int) -> None:
    run = run_subprocess("sandbox", "serve", "--port", str(taken_port), timeout=60)
    assert run.exit_code == USAGE_EXIT
    assert run.stderr == (
        f"Error [usage.invalid]: Port {taken_port} on 127.0.0.1 is already in use.\n"
        "Fix: Pick another --port, or --port 0 for any free port.\n"
    )
    assert run.stdout == ""


def test_serve_on_a_host_that_does_not_resolve_is_one_line() -> None:
    run = run_subprocess("sandbox", "serve", "--host", "not-a-host.invalid", timeout=60)
    assert run.exit_code == USAGE_EXIT
    assert run.stderr == (
        "Error [usage.invalid]: --host 'not-a-host.invalid' is not an address or a host name this machine "
        "resolves.\nFix: Pass an IP address such as 127.0.0.1 (the default).\n"
    )


def test_a_nul_in_an_input_path_is_one_line(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    """Found by tests/test_properties.py: a batch file's "inputs" can carry a NUL that argv cannot."""
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"prompt": "a fox", "inputs": {"image_url": "cat\\u0000.png"}}\n', encoding="utf-8")
    run = genctl(
        "generate",
        "--batch",
        str(batch),
        "-m",
        "fal-ai/flux/dev/image-to-image",
        "--json",
        env=fal_env(sandbox),
    )
    assert "Traceback" not in run.stderr
    assert run.exit_code in {code for code, _ in CODES.values()}
    assert "holds a NUL character" in run.stdout + run.stderr
    assert [r.method for r in sandbox.requests if r.method == "POST"] == []


def test_ctrl_c_during_a_slow_submit_says_the_job_may_exist(sandbox: Sandbox) -> None:
    """A real process, a real SIGINT once the submit has reached a server that never answers it."""
    from genctl.sandbox.faults import Fault
    from tests.support import signal_when_seen

    sandbox.inject(Fault(action="hang", provider="fal.queue", path=r"^/fal/queue/fal-ai/flux/schnell$"))
    got = signal_when_seen(
        ["generate", "a fox", "-m", "fal-ai/flux/schnell", "--no-validate"],
        box=sandbox,
        env=fal_env(sandbox),
        pattern=r"^/fal/queue/fal-ai/flux/schnell$",
    )
    assert got.returncode == CODES["interrupted"][0]
    assert "Traceback" not in got.stderr
    assert (
        "Error [interrupted]: Interrupted while submitting: the job may exist at the provider" in got.stderr
    )
    # Recorded as an unconfirmed submit: the fix names the command that finds its job (#13).
    assert "Fix: `genctl result --pending` finds the job in fal's recent requests" in got.stderr
    assert "nothing was cancelled." not in got.stderr
