"""Results that cannot reach stdout, from real processes: a full disk behind `>` and a reader that quits
(`| head -1`) end the command non-zero, what runs is cancelled, and nothing paid for is lost."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from genctl.history import History
from genctl.sandbox import Sandbox
from tests.support import fal_env

FAL = ("-m", "fal-ai/flux/schnell")


def submits(box: Sandbox) -> int:
    return box.count(method="POST", host="fal.queue")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_result_written_to_a_full_device_fails_and_the_paid_output_is_kept(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "genctl", "generate", "a fox", *FAL, "-o", "out", "--quiet"],
            env={**os.environ, **fal_env(sandbox)},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode != 0
    [row] = History().recent()
    saved = sorted((tmp_path / "out").iterdir())
    assert len(saved) == 1 and row.status == "succeeded"
    assert proc.stderr.splitlines() == [
        "Error [usage.invalid]: Cannot write the results to stdout: No space left on device.",
        "Fix: Send stdout somewhere that can take it (a disk with free space, an open pipe).",
    ]
    assert [Path(o["path"]).name for o in row.outputs] == [saved[0].name]  # `genctl result ID` finds it again


def test_a_batch_piped_into_head_cancels_what_runs_and_resume_reruns_the_rest(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    batch = tmp_path / "b.txt"
    batch.write_text("a fox\n[sandbox:latency=4] a cat\na dog\nan owl\nan eel\n")
    args = [sys.executable, "-m", "genctl", "generate", "--batch", str(batch), *FAL, "-o", "out"]
    env = {**os.environ, **fal_env(sandbox)}
    producer = subprocess.Popen(
        [*args, "--concurrency", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert producer.stdout is not None and producer.stderr is not None
    head = subprocess.run(["head", "-1"], stdin=producer.stdout, capture_output=True, text=True, timeout=60)
    producer.stdout.close()
    stderr = producer.stderr.read()
    producer.stderr.close()
    code = producer.wait(timeout=60)
    assert head.stdout.startswith("out/")
    assert code == 141, stderr  # 128 + SIGPIPE, as a shell pipeline reports it
    rows = History().recent()
    done = [row for row in rows if row.status == "succeeded"]
    # A job that finished just before its cancel arrived stays pending: --resume fetches it, unpaid.
    pending = [row for row in rows if row.pending]
    assert any(c.phase == "running" for c in sandbox.cancels)  # the slow cat at least
    # The counts are those at the moment the pipe closed (a job may end, and be saved, while genctl stops).
    summary, fix = stderr.splitlines()
    found = re.fullmatch(
        r"Error \[interrupted\]: Interrupted: (\d) of 5 items done, (\d) of (\d) running job\(s\) cancelled,"
        r" (\d) not started\.",
        summary,
    )
    assert found is not None, summary
    finished, cancelled, running_then, not_started = map(int, found.groups())
    assert finished + running_then + not_started == 5 and 1 <= cancelled <= running_then
    assert finished <= len(done)
    assert fix == "Fix: Run the same command with --resume: it runs only the items that did not succeed."
    first = submits(sandbox)
    again = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert submits(sandbox) - first == 5 - len(done) - len(pending)
    # A job that succeeded while genctl stopped, its outputs not saved yet, is fetched again (unpaid).
    whole = [row for row in done if not row.missing_outputs()]
    assert again.stderr.endswith(
        f"{5 - len(whole)} succeeded, {len(whole)} skipped (succeeded before), 0 failed\n"
    )
