"""Job history: a row written before the first poll, followed through the job's life, listed and cleared;
safe with several processes writing at once; off with --no-history or `[history] enabled = false`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from genctl.config import load_settings
from genctl.generation import generate
from genctl.history import History, JobRecord
from genctl.plan import GenerationRequest
from genctl.runner import Event
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK
from genctl.values import fingerprint
from tests.support import fal_env, replicate_env

FAL = ("-m", "fal-ai/flux/schnell")
REPLICATE = ("-m", "black-forest-labs/flux-schnell")


def rows(home: Path) -> list[JobRecord]:
    return History(home / "state" / "history.db").recent(limit=None)


def test_row_is_written_before_the_first_status_poll(
    sandbox: Sandbox, hermetic_env: Path, tmp_path: Path
) -> None:
    # The first status poll is held 1 s by the sandbox: the row must be there while it is in flight.
    sandbox.inject(Fault.slow(1.0, path=r"/status(/stream)?$", times=1))
    proc = subprocess.Popen(
        [sys.executable, "-m", "genctl", "generate", "a lighthouse", *FAL, "-o", "out", "-p", "seed=7"],
        env={**os.environ, **fal_env(sandbox)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    found: list[JobRecord] = []
    while (not found or found[0].status in ("unconfirmed", "submitted")) and time.monotonic() < deadline:
        found = rows(hermetic_env)  # "unconfirmed" while sending, "submitted", then "queued": before a poll
        time.sleep(0.01)
    polls_done = sandbox.count(r"/status(/stream)?$")
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    [row] = found
    assert polls_done == 0, "the row appeared only after a status poll was answered"
    assert row.status == "queued"  # fal answered the submit IN_QUEUE
    assert (row.provider, row.model, row.prompt) == ("fal", "fal-ai/flux/schnell", "a lighthouse")
    assert row.params == {"prompt": "a lighthouse", "seed": 7}
    assert (row.key_label, row.key_fingerprint) == ("env:FAL_KEY", fingerprint(FAL_KEY_OK))
    assert row.outputs == [] and row.completed_at is None
    assert row.status_url is not None and row.request_id in row.status_url
    [done] = rows(hermetic_env)
    assert done.status == "succeeded" and done.saved_at is not None
    [output] = done.outputs
    assert output["path"] == str((tmp_path / stdout.strip()).resolve())
    assert output["bytes"] == Path(output["path"]).stat().st_size
    assert output["url"].startswith(sandbox.url + "/media/")
    assert done.submitted_at <= done.started_at <= done.completed_at <= done.saved_at  # type: ignore[operator]


def test_row_follows_the_job_through_its_life(sandbox: Sandbox, hermetic_env: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def on_event(event: Event) -> None:
        if event.kind in ("submitted", "queued", "running", "completed"):
            [row] = rows(hermetic_env)
            seen.append((event.kind, row.status))

    settings = load_settings(env={**os.environ, **fal_env(sandbox)})
    request = GenerationRequest(
        prompt="[sandbox:queue=1][sandbox:progress=1] a fox", model="fal-ai/flux/schnell"
    )
    report = generate(settings, request, on_event=on_event)
    changes = [pair for n, pair in enumerate(seen) if n == 0 or pair != seen[n - 1]]  # queue moves repeat
    assert changes == [
        ("submitted", "submitted"),
        ("queued", "queued"),
        ("running", "running"),
        ("completed", "running"),  # succeeded is written with the result, just after
    ]
    [row] = rows(hermetic_env)
    assert row.status == "succeeded" and row.request_id == report.request_id
    assert row.started_at is not None and row.started_at < row.completed_at  # type: ignore[operator]
    assert [o["path"] for o in row.outputs] == [str(report.outputs[0].path.resolve())]  # type: ignore[union-attr]
    assert row.result_bytes is not None and row.result_bytes > 0


def test_a_failed_job_keeps_its_code_and_a_refused_request_is_no_job(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    run = genctl("generate", "[sandbox:fail] a fox", *REPLICATE, env=replicate_env(sandbox))
    assert run.exit_code == 1
    [row] = rows(hermetic_env)
    assert (row.status, row.error_code, row.provider) == ("failed", "generation.failed", "replicate")
    assert row.request_id in run.stderr and row.error_message and "failed" in row.error_message
    assert row.completed_at is not None
    # Refused before acceptance (pre-flight, a rejected key): nothing was charged, nothing is recorded.
    assert genctl("generate", "a fox", *FAL, "-p", "num_images=99", env=fal_env(sandbox)).exit_code == 5
    assert genctl("generate", "a fox", *FAL, env=fal_env(sandbox, sk.FAL_KEY_UNKNOWN)).exit_code == 3
    assert len(rows(hermetic_env)) == 1
    # fal's queue accepts any input and answers 422 at the result: that is a job, and it failed.
    run = genctl("generate", "a fox", *FAL, "-p", "num_images=99", "--no-validate", env=fal_env(sandbox))
    assert run.exit_code == 5
    newest = rows(hermetic_env)[0]
    assert (newest.provider, newest.status, newest.error_code) == ("fal", "failed", "payload.invalid")


def test_history_lists_newest_first_filters_and_clears(genctl, sandbox: Sandbox) -> None:
    env = {**fal_env(sandbox), **replicate_env(sandbox)}
    assert genctl("generate", "first", *FAL, env=env).exit_code == 0
    assert genctl("generate", "[sandbox:fail] second", *REPLICATE, env=env).exit_code == 1
    assert genctl("generate", "third", *FAL, "--no-wait", env=env).exit_code == 0
    listed = json.loads(genctl("history", "--json").stdout)
    assert listed["ok"] is True and listed["count"] == 3
    jobs = listed["jobs"]
    assert [j["prompt"] for j in jobs] == ["third", "[sandbox:fail] second", "first"]
    assert [j["status"] for j in jobs] == ["submitted", "failed", "succeeded"]
    assert jobs[1]["error"]["code"] == "generation.failed"
    assert jobs[2]["outputs"][0]["path"].endswith(".png") and jobs[2]["seconds"] >= 0
    assert set(jobs[0]) >= {"request_id", "key_label", "key_fingerprint", "submitted_at", "params", "batch"}

    def prompts(*args: str) -> list[str]:
        return [j["prompt"] for j in json.loads(genctl("history", "--json", *args).stdout)["jobs"]]

    assert prompts("--status", "failed") == ["[sandbox:fail] second"]
    assert prompts("--status", "pending") == ["third"]
    assert prompts("--status", "succeeded", "--limit", "5") == ["first"]
    assert prompts("--limit", "1") == ["third"]
    table = genctl("history")
    assert table.exit_code == 0
    assert jobs[1]["request_id"] in table.stdout and "failed (generation.failed)" in table.stdout
    assert "1/1 saved" in table.stdout
    bad = genctl("history", "--status", "done")
    assert bad.exit_code == 2 and "Error [usage.invalid]: --status 'done' is not one of" in bad.stderr
    refused = genctl("history", "--clear", "--json")  # a script is never asked: it must say --yes
    assert refused.exit_code == 2
    err = json.loads(refused.stdout)["error"]
    assert (err["code"], err["fix"]) == ("usage.invalid", "genctl history --clear --yes")
    assert err["message"] == (
        "--clear would delete all 3 recorded job(s), 1 of them pending (`genctl result` could still finish "
        "those); off a terminal genctl does not ask, so it needs --yes."
    )
    assert len(json.loads(genctl("history", "--json").stdout)["jobs"]) == 3  # nothing was deleted
    cleared = genctl("history", "--clear", "--yes", "--json")
    assert json.loads(cleared.stdout) == {"ok": True, "cleared": 3}
    empty = json.loads(genctl("history", "--json").stdout)
    assert (empty["ok"], empty["count"], empty["jobs"], empty["cost"]["jobs"]) == (True, 0, [], 0)
    assert genctl("history").stderr == "No jobs in the history.\n"


def test_no_history_flag_and_config_write_nothing(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    assert genctl("generate", "a fox", *FAL, "--no-history", env=fal_env(sandbox)).exit_code == 0
    assert not (hermetic_env / "state" / "history.db").exists()
    config = hermetic_env / "off.toml"
    config.write_text("[history]\nenabled = false\n")
    run = genctl("--config", str(config), "generate", "a fox", *FAL, "--no-wait", env=fal_env(sandbox))
    assert run.exit_code == 0
    assert "not in the history (--no-history), so `genctl result` cannot finish it" in run.stderr
    assert not (hermetic_env / "state" / "history.db").exists()
    assert sorted(p.name for p in (hermetic_env / "state").iterdir()) == ["keys.json", "keys.lock"]
    listed = genctl("--config", str(config), "history")
    assert "History is off ([history] enabled = false)" in listed.stderr
    wrong = hermetic_env / "wrong.toml"
    wrong.write_text('[history]\nenabled = "no"\n')
    bad = genctl("--config", str(wrong), "history")
    assert (
        bad.exit_code == 2 and "[history] enabled in" in bad.stderr and "must be true or false" in bad.stderr
    )


def test_an_unwritable_history_costs_a_warning_not_the_job(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    (hermetic_env / "state" / "history.db").mkdir(parents=True)  # a folder where the database should be
    run = genctl("generate", "a fox", *FAL, env=fal_env(sandbox))
    assert run.exit_code == 0
    assert run.stdout.strip().endswith(".png")
    assert run.stderr.count("Warning: cannot write the job history") == 1
    assert "this job is not recorded" in run.stderr


WRITER = """
import sys
from genctl.history import History
from genctl.values import Key
from genctl.providers.base import Job
history, n = History(), int(sys.argv[1])
key = Key(provider="fal", label="ci", source="env", _secret="k")
for i in range(int(sys.argv[2])):
    rid = f"{n}-{i}"
    job = Job(provider="fal", model="m", request_id=rid, status_url="u")
    history.add(job=job, key=key, prompt=f"p{rid}", params={"i": i}, output_dir=None)
    history.set_status("fal", rid, "running")
    history.set_status("fal", rid, "succeeded", outputs=[{"url": "u", "path": None}])
"""


def test_concurrent_writers_lose_nothing(hermetic_env: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n), "40"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, results
    assert [stderr for _, stderr in results] == [""] * 6
    found = rows(hermetic_env)
    missing = {f"{n}-{i}" for n in range(6) for i in range(40)} - {r.request_id for r in found}
    assert (len(found), sorted(missing)) == (240, [])
    assert {r.status for r in found} == {"succeeded"}
    assert all(r.outputs == [{"url": "u", "path": None}] for r in found)


def test_history_file_is_private_and_holds_no_key(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    from tests.test_secrets import FAL_SECRET, REPLICATE_SECRET, assert_clean, assert_files_clean

    env = {**sandbox.env(), "FAL_KEY": FAL_SECRET, "REPLICATE_API_TOKEN": REPLICATE_SECRET}
    runs = [
        genctl("generate", "a fox", *FAL, "-o", "out", env=env),
        genctl("generate", "a fox", *REPLICATE, "--no-wait", "--json", env=env),
        genctl("generate", "[sandbox:fail] a fox", *FAL, env=env),
    ]
    rid = json.loads(runs[1].stdout)["request_id"]
    batch = hermetic_env.parent / "b.jsonl"
    batch.write_text(
        'a cat\n{"prompt": "a dog", "model": "black-forest-labs/flux-schnell"}\n[sandbox:fail] x\n'
    )
    runs += [
        genctl("--debug", "result", rid, "--wait", "--json", env=env),
        genctl("--debug", "generate", "--batch", str(batch), *FAL, "-o", "out", "--json", env=env),
        genctl("generate", "--batch", str(batch), *FAL, "-o", "out", "--resume", env=env),
        genctl("history", "--json"),
        genctl("history"),
    ]
    assert [r.exit_code for r in runs] == [0, 0, 1, 0, 1, 1, 0, 0]
    for run in runs:
        assert_clean(run.stdout + run.stderr)
    assert_files_clean(hermetic_env.parent)  # the database (and any -wal/-shm), outputs, state
    assert (hermetic_env / "state" / "history.db").stat().st_mode & 0o777 == 0o600
    assert (hermetic_env.parent / "out").is_dir()  # the grep above covered real outputs
    assert {r.key_fingerprint for r in rows(hermetic_env)} == {
        fingerprint(FAL_SECRET),
        fingerprint(REPLICATE_SECRET),
    }


def test_a_prefix_of_a_request_id_finds_the_job(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *REPLICATE, "--no-wait", env=replicate_env(sandbox, REPLICATE_TOKEN_OK))
    rid = run.stdout.strip()
    found = genctl("result", rid[:8], "--wait", "--json", env=replicate_env(sandbox))
    assert found.exit_code == 0, found.stderr
    assert json.loads(found.stdout)["request_id"] == rid
    history = History()
    job = history.find(rid)
    assert job is not None
    for n in range(2):  # two rows sharing a prefix
        history.add(
            job=replace(job.job(), request_id=f"zzzz{n}-x"),
            key=_key(),
            prompt=None,
            params={},
            output_dir=None,
        )
    ambiguous = genctl("result", "zzzz", env=replicate_env(sandbox))
    assert ambiguous.exit_code == 2
    assert "Error [usage.invalid]: 'zzzz' matches several jobs in history: " in ambiguous.stderr


def _key():  # type: ignore[no-untyped-def]
    from genctl.values import Key

    return Key(provider="replicate", label="t", source="test", _secret=REPLICATE_TOKEN_OK)


def test_the_row_names_the_key_that_was_accepted(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    # The first key is refused (401) and the same request goes out with the second: only that one is a job.
    keys = f"{sk.FAL_KEY_UNKNOWN},{FAL_KEY_OK}"
    run = genctl("generate", "a fox", *FAL, env=fal_env(sandbox, keys))
    assert run.exit_code == 0, run.stderr
    [row] = rows(hermetic_env)
    assert (row.key_label, row.key_fingerprint) == ("env:FAL_KEY#2", fingerprint(FAL_KEY_OK))


def test_clear_asks_on_a_terminal_and_keeps_everything_on_no(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    from tests.conftest import run_in_terminal

    assert genctl("generate", "a fox", *FAL, "--no-download", env=fal_env(sandbox)).exit_code == 0
    declined = run_in_terminal("history", "--clear", answer="n")
    assert declined.exit_code == 0
    history_db = hermetic_env / "state" / "history.db"
    assert any(line.startswith("Delete all 1 recorded job(s) from ") for line in declined.lines)
    assert declined.lines[-1].strip() == "Nothing was deleted."  # the typed answer may leave a blank
    assert len(json.loads(genctl("history", "--json").stdout)["jobs"]) == 1
    accepted = run_in_terminal("history", "--clear", answer="y")
    assert accepted.exit_code == 0
    assert accepted.lines[-1].strip() == f"Cleared 1 job(s) from {history_db}."


def test_every_output_of_a_job_is_recorded_where_it_was_saved(
    genctl, sandbox: Sandbox, hermetic_env: Path, tmp_path: Path
) -> None:
    """Each output is written to the row as it lands, the last one together with `saved_at`."""
    run = genctl(
        "generate", "two foxes", *FAL, "-p", "num_images=2", "-o", str(tmp_path), env=fal_env(sandbox)
    )
    assert run.exit_code == 0, run.stderr
    [done] = rows(hermetic_env)
    printed = [str(Path(line).resolve()) for line in run.stdout.split()]
    assert [output["path"] for output in done.outputs] == printed and len(printed) == 2
    assert [output["bytes"] for output in done.outputs] == [Path(p).stat().st_size for p in printed]
    assert done.saved_at is not None and done.status == "succeeded"
