"""Nothing paid for is lost or paid twice: the output folder is checked before the submit, a job whose
status cannot be read stays pending, and results that cannot reach stdout fail the command."""

from __future__ import annotations

import json
from pathlib import Path

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
