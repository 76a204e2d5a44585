"""A paid submit whose answer never arrived (#13, #12): history records it before it goes out, as
`unconfirmed`, and `genctl result --pending` finds its job in the provider's recent requests and saves it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from genctl.history import History
from genctl.history import db as history_db
from genctl.history.unconfirmed import input_fingerprint
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from tests.support import PNG, fal_env, replicate_env

SCHNELL = "black-forest-labs/flux-schnell"
REP = ("-m", SCHNELL)
CREATE = r"/replicate/v1/models/black-forest-labs/flux-schnell/predictions$"


def saved_png(path: str) -> bool:
    return Path(path).read_bytes().startswith(PNG)


def test_a_create_answered_with_gzip_garbage_is_found_and_saved(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.gzip_garbage(provider="replicate", method="POST", path=CREATE, times=1))
    run = genctl("generate", "a fox", *REP, "-o", "out", env=replicate_env(sandbox))
    assert run.exit_code == 7
    assert run.stderr.splitlines()[-1] == (
        "Fix: `genctl result --pending` finds the job in replicate's recent requests and saves its outputs; "
        "do not run it again before, or it may be paid for twice."
    )
    [row] = History().recent()
    assert (row.status, row.model, row.key_label) == ("unconfirmed", SCHNELL, "env:REPLICATE_API_TOKEN")
    assert row.request_id.startswith("unconfirmed-") and row.prompt == "a fox"
    assert row.input_fingerprint == input_fingerprint({"prompt": "a fox"})  # the input exactly as sent
    assert [r.request_id for r in History().recent(status="pending")] == [row.request_id]

    found = genctl("result", "--pending", env=replicate_env(sandbox))
    assert found.exit_code == 0, found.stderr
    [job] = History().recent()
    assert job.status == "succeeded" and sandbox.job(job.request_id) is not None  # the sandbox's own id
    [path] = found.lines
    assert Path(path) == Path("out").resolve() / Path(path).name and saved_png(path)
    assert found.stderr.splitlines()[:2] == [
        f"Found the job of an unconfirmed submit: {job.request_id}.",
        f"Saved 1 of 1 output(s) of {job.request_id}.",
    ]
    assert sandbox.count(CREATE, method="POST") == 1  # found, never paid for twice
    again = genctl("result", "--pending", "--json", env=replicate_env(sandbox))
    assert json.loads(again.stdout) == {"ok": True, "found": [], "missing": []}


def test_a_lost_fal_submit_is_found_by_endpoint_and_time(genctl, sandbox: Sandbox) -> None:
    """fal's listing carries no input (no expand=payloads): model and time find the one request."""
    sandbox.inject(Fault.gzip_garbage(provider="fal.queue", method="POST", times=1))
    env = fal_env(sandbox)
    assert genctl("generate", "a fox", "-m", "fal-ai/flux/schnell", "-o", "out", env=env).exit_code == 7
    found = genctl("result", "--pending", env=env)
    assert found.exit_code == 0, found.stderr
    [job] = History().recent()
    assert job.status == "succeeded" and not job.request_id.startswith("unconfirmed-")
    [path] = found.lines
    assert saved_png(path) and sandbox.count(r"/fal/queue/fal-ai/flux/schnell$", method="POST") == 1


def test_the_input_fingerprint_tells_two_lost_submits_apart(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.gzip_garbage(provider="replicate", method="POST", path=CREATE, times=2))
    for prompt in ("a fox", "a heron"):
        assert genctl("generate", prompt, *REP, "--no-download", env=replicate_env(sandbox)).exit_code == 7
    found = genctl("result", "--pending", "--json", env=replicate_env(sandbox))
    assert found.exit_code == 0, found.stderr
    assert len(json.loads(found.stdout)["found"]) == 2
    for row in History().recent():
        remote = sandbox.job(row.request_id)
        assert row.status == "succeeded" and remote is not None and remote.input == {"prompt": row.prompt}


def test_a_submit_that_never_reached_the_provider_is_not_found(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(action="drop", provider="replicate", method="POST", path=CREATE, times=1))
    run = genctl("generate", "a fox", *REP, env=replicate_env(sandbox))
    assert run.exit_code == 7 and "`genctl result --pending` finds the job" in run.stderr
    [row] = History().recent()
    text = genctl("result", "--pending", env=replicate_env(sandbox))
    assert text.exit_code == 0 and text.stdout == ""
    [line] = text.stderr.splitlines()
    assert line.startswith(
        f"Not found: No replicate request matches the unconfirmed submit {row.request_id} ("
    )
    assert line.endswith(
        "Fix: Check https://replicate.com/predictions for a black-forest-labs/flux-schnell job from then "
        "before running it again; `genctl history --remote replicate` lists its recent requests."
    )
    doc = json.loads(genctl("result", "--pending", "--json", env=replicate_env(sandbox)).stdout)
    [missing] = doc["missing"]
    assert (missing["request_id"], missing["error"]["code"]) == (row.request_id, "output.expired")
    one = genctl("result", row.request_id, env=replicate_env(sandbox))
    assert one.exit_code == 1 and one.stderr.startswith("Error [output.expired]: No replicate request")
    assert History().recent()[0].status == "unconfirmed"  # still there: the dashboard may show it


def test_a_refused_submit_leaves_no_row(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *REP, env=replicate_env(sandbox, sk.REPLICATE_TOKEN_INVALID))
    assert run.exit_code == 3
    assert History().recent() == []  # answered: no job was created, nothing to find


def test_result_needs_an_id_or_pending(genctl) -> None:
    run = genctl("result")
    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        "Error [usage.invalid]: Give either a request id or --pending.",
        "Fix: genctl result ID (`genctl history` lists them), or genctl result --pending.",
    ]


def test_a_schema_2_database_keeps_its_rows_and_gains_the_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    conn.executescript(history_db._SCHEMA.replace("    input_fingerprint TEXT,\n", ""))
    conn.execute(
        "INSERT INTO jobs (provider, model, request_id, status, submitted_at, updated_at) "
        "VALUES ('fal', 'fal-ai/flux/dev', 'old-1', 'succeeded', 1.0, 1.0)"
    )
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    [old] = History(path).recent()
    assert (old.request_id, old.input_fingerprint) == ("old-1", None)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == history_db.SCHEMA_VERSION == 3
        columns = {row[1] for row in check.execute("PRAGMA table_info(jobs)")}
    assert "input_fingerprint" in columns


def test_a_process_killed_while_its_create_is_held_open_is_recovered(genctl, sandbox: Sandbox) -> None:
    """Prefer: wait holds the create until the prediction ends; a SIGKILL meanwhile leaves no job id on
    this side, only the unconfirmed row, which `result --pending --wait` turns into the saved result."""
    env = replicate_env(sandbox)
    listing = f"{sandbox.url}/replicate/v1/predictions"
    auth = {"Authorization": f"Bearer {sk.REPLICATE_TOKEN_OK}"}
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genctl",
            "generate",
            "[sandbox:latency=0.8] a fox",
            *REP,
            "-o",
            "out",
            "--no-validate",
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        created: list[str] = []
        deadline = time.monotonic() + 20
        while not created and time.monotonic() < deadline and proc.poll() is None:
            created = [p["id"] for p in httpx.get(listing, headers=auth).json()["results"]]
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL and len(created) == 1
    assert sandbox.count(CREATE, method="POST") == 0  # the held create was never answered
    [row] = History().recent()
    assert row.status == "unconfirmed"
    done = genctl("result", "--pending", "--wait", env=env)
    assert done.exit_code == 0, done.stderr
    [path] = done.lines
    assert saved_png(path)
    [job] = History().recent()
    assert (job.request_id, job.status, job.saved_at is not None) == (created[0], "succeeded", True)


def test_ctrl_c_while_saving_names_the_job_and_how_to_save_it(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    out, stop = tmp_path / "out", threading.Event()
    main = threading.main_thread().ident
    assert main is not None

    def interrupt_once_saving() -> None:
        while not stop.wait(0.01):
            if out.is_dir() and any(p.name.endswith(".part") for p in out.iterdir()):
                signal.pthread_kill(main, signal.SIGINT)  # a real SIGINT, as Ctrl-C sends it
                return

    watcher = threading.Thread(target=interrupt_once_saving, daemon=True)
    watcher.start()
    try:
        # A 200 MB output (streamed 1 MiB at a time): the SIGINT comes as soon as its temp file exists.
        big = "[sandbox:big=200000000] a fox"
        run = genctl("generate", big, *REP, "-o", str(out), "--no-validate", env=replicate_env(sandbox))
    finally:
        stop.set()
        watcher.join()
    [job] = History().recent()
    assert run.exit_code == 130 and job.status == "succeeded"
    assert run.stderr.splitlines()[-3:] == [
        f"Error [interrupted]: Interrupted while saving output 1 of 1: the job {job.request_id} succeeded "
        "and is paid for.",
        f"Request id: {job.request_id}",
        f"Fix: `genctl result {job.request_id}` saves its outputs (within about an hour, before replicate "
        "deletes them).",
    ]
    assert list(out.iterdir()) == []  # the temp file is gone; `genctl result` saves the output later
