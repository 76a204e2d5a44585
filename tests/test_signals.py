"""Signals sent to a real genctl process while a job runs: cancel it, record it, exit 128 + the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from genctl.history import History
from genctl.sandbox import Sandbox
from tests.hostile_servers import wait_for
from tests.test_generate import fal_env


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130), (signal.SIGPIPE, 141)],
)
def test_a_signal_while_the_job_runs_cancels_it_and_records_it(
    sandbox: Sandbox, signum: int, code: int
) -> None:
    sandbox.configure(never_finish=True)
    env = {**os.environ, **fal_env(sandbox)}
    with subprocess.Popen(
        [sys.executable, "-m", "genctl", "generate", "a fox", "-m", "fal-ai/flux/schnell", "--no-validate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        # submitted, and being followed (on the status stream, or polled)
        wait_for(lambda: sandbox.count(r"/status(/stream)?$", method="GET") > 0)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    assert stdout == ""
    [job] = sandbox.cancels
    assert (
        f"Error [interrupted]: Interrupted; the remote job was cancelled (request {job.request_id})."
        in stderr
    )
    [row] = History().recent()
    assert (row.request_id, row.status, row.error_code) == (job.request_id, "failed", "interrupted")
