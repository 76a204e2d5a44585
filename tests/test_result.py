"""`genctl result` and `generate --no-wait`: finishing jobs that a killed run, a full disk or --no-wait left
behind, and `output.expired` when the provider no longer keeps a result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genctl.errors import error
from genctl.history import History, JobRecord
from genctl.history.recovery import expired
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from tests.support import PNG, fal_env, replicate_env

FAL = ("-m", "fal-ai/flux/schnell")


def _no_space(fd: int) -> None:
    import errno

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


REPLICATE = ("-m", "black-forest-labs/flux-schnell")


def files(folder: Path) -> list[str]:
    """Every name in `folder`, hidden temp files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def row(request_id: str) -> JobRecord:
    found = History().find(request_id)
    assert found is not None
    return found


def error_of(run) -> dict:  # type: ignore[no-untyped-def]
    doc = json.loads(run.stdout.splitlines()[-1])
    assert doc["ok"] is False and "Traceback" not in run.stderr
    assert f"Error [{doc['error']['code']}]" in run.stderr
    return doc["error"]


@pytest.mark.parametrize(
    ("model", "env"), [(FAL, fal_env), (REPLICATE, replicate_env)], ids=["fal", "replicate"]
)
def test_no_wait_then_result_wait(genctl, sandbox: Sandbox, tmp_path: Path, model, env) -> None:  # type: ignore[no-untyped-def]
    run = genctl(
        "generate", "[sandbox:queue=2] a fox", *model, "-o", "out", "--no-wait", "--json", env=env(sandbox)
    )
    assert run.exit_code == 0, run.stderr
    submitted = json.loads(run.stdout)
    rid = submitted["request_id"]
    assert (submitted["ok"], submitted["status"], submitted["outputs"]) == (True, "submitted", [])
    assert submitted["key_label"] in ("env:FAL_KEY", "env:REPLICATE_API_TOKEN")
    assert sandbox.count(r"/status$|/predictions/[a-z0-9]+$", method="GET") == 0  # no poll at all
    assert files(tmp_path / "out") == []
    assert row(rid).status == "submitted" and row(rid).output_dir == str(tmp_path / "out")

    pending = genctl("result", rid, "--json", env=env(sandbox))
    assert pending.exit_code == 0, pending.stderr
    doc = json.loads(pending.stdout)
    assert (doc["status"], doc["outputs"]) == ("queued", [])
    assert row(rid).status == "queued"
    text = genctl("result", rid, env=env(sandbox))
    assert (
        text.stdout == ""
        and f"{rid} is queued" in text.stderr
        and f"genctl result {rid} --wait" in text.stderr
    )

    done = genctl("result", rid, "--wait", env=env(sandbox))
    assert done.exit_code == 0, done.stderr
    [path] = done.lines
    assert Path(path) == tmp_path / "out" / files(tmp_path / "out")[0]
    assert Path(path).read_bytes().startswith(PNG)
    assert row(rid).status == "succeeded" and row(rid).saved_at is not None
    # Everything is on disk now: a second call downloads nothing and asks the provider nothing.
    before = len(sandbox.requests)
    again = json.loads(genctl("result", rid, "--json", env=env(sandbox)).stdout)
    assert [o["downloaded"] for o in again["outputs"]] == [False]
    assert again["outputs"][0]["path"] == path
    assert len(sandbox.requests) == before


def _spawn(sandbox: Sandbox, prompt: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "genctl", "generate", prompt, *FAL, "-o", "out", *args],
        env={**os.environ, **fal_env(sandbox)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(proc: subprocess.Popen[str], ready) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while not ready() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.002)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL


def test_result_recovers_a_run_killed_in_the_queue(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.configure(status_stream_tick=0.25)  # each queue position stays a while on fal's stream
    proc = _spawn(sandbox, "[sandbox:queue=4] a fox")
    _kill_when(proc, lambda: sandbox.count(r"/status(/stream)?$") >= 1)
    [job] = History().recent()
    assert job.status == "queued" and files(tmp_path / "out") == []
    run = genctl("result", job.request_id[:8], "--wait", "--json", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    [output] = json.loads(run.stdout)["outputs"]
    assert output["downloaded"] is True
    assert Path(output["path"]).read_bytes().startswith(PNG)
    assert files(tmp_path / "out") == [Path(output["path"]).name]
    assert sandbox.count(r"/fal/queue/fal-ai/flux/schnell$", method="POST") == 1  # never paid twice


def test_result_recovers_a_run_killed_mid_download(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    size = 80_000_000
    out = tmp_path / "out"
    proc = _spawn(sandbox, f"[sandbox:big={size}] a fox")
    _kill_when(proc, lambda: any(name.endswith(".part") for name in files(out)))
    [part] = files(out)  # the hidden temp file only: never a final file that looks finished
    assert part.startswith(".") and part.endswith(".part")
    [job] = History().recent()
    assert job.status == "succeeded" and job.outputs[0]["url"] and job.outputs[0]["path"] is None
    # A .part untouched for a while is the dead run's: `result` deletes it. A fresh one may be a live
    # download of another process, and is left alone.
    old = time.time() - 3600
    os.utime(out / part, (old, old))
    fresh = out / f".{part.split('.')[1]}.live.part"
    fresh.write_bytes(b"x")
    run = genctl("result", job.request_id, env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    [path] = run.lines
    assert Path(path).stat().st_size == size
    assert files(out) == sorted([Path(path).name, fresh.name])
    assert sandbox.count(r"/fal/queue/fal-ai/flux/schnell$", method="POST") == 1


def test_a_cut_download_is_finished_by_result(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.inject(Fault.drop_mid_body(provider="media", times=1))
    run = genctl("generate", "[sandbox:big=3000000] a fox", *FAL, "-o", "out", "--json", env=fal_env(sandbox))
    assert run.exit_code == 7
    err = error_of(run)
    rid = err["request_id"]
    assert err["code"] == "network.connect"
    assert f"The job {rid} succeeded; its output URLs are kept in the history." in err["message"]
    assert err["fix"].startswith(f"genctl result {rid} -o OTHER_DIR saves them")
    assert files(tmp_path / "out") == []
    fixed = genctl("result", rid, env=fal_env(sandbox))
    assert fixed.exit_code == 0, fixed.stderr
    assert Path(fixed.stdout.strip()).stat().st_size == 3_000_000


def test_a_failed_download_never_moves_on_to_another_provider(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    # With provider fallback on, a job that was accepted and then could not be saved must not be paid for
    # again elsewhere: it is in history, for `genctl result`.
    config = tmp_path / "fallback.toml"
    config.write_text('[defaults]\nfallback = ["fal", "replicate"]\n')
    sandbox.inject(Fault.drop_mid_body(provider="media"))
    both = {**fal_env(sandbox), **replicate_env(sandbox)}
    run = genctl(
        "--config", str(config), "generate", "[sandbox:big=3000000] a fox", "-m", "flux-schnell", env=both
    )
    assert run.exit_code == 7
    assert "Error [network.connect]: " in run.stderr and "trying Replicate" not in run.stderr
    assert [r.host for r in sandbox.requests if r.method == "POST"] == ["fal.queue"]


def test_a_disk_that_fills_during_the_save_keeps_the_job_and_says_how_to_fetch_it(
    genctl, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as full:
        full.setattr(os, "fsync", _no_space)  # no check before the submit can see this coming
        run = genctl("generate", "a fox", *FAL, "-o", "out", "--json", env=fal_env(sandbox))
    assert run.exit_code == 2
    err = error_of(run)
    rid = err["request_id"]
    assert err["code"] == "usage.invalid"
    assert "No space left on device" in err["message"] and f"The job {rid} succeeded" in err["message"]
    assert err["fix"] == (
        f"Free some space or choose another folder: genctl result {rid} -o OTHER_DIR saves them "
        "(within about an hour, before fal deletes them)."
    )
    [url] = err["details"]["outputs"]
    assert url.startswith(sandbox.url + "/media/")
    job = row(rid)
    assert job.status == "succeeded" and job.outputs[0]["url"] == url and job.saved_at is None
    fixed = genctl("result", rid, "-o", "elsewhere", env=fal_env(sandbox))
    assert fixed.exit_code == 0, fixed.stderr
    assert Path(fixed.stdout.strip()).parent == Path("elsewhere")
    assert (tmp_path / fixed.stdout.strip()).read_bytes().startswith(PNG)
    assert row(rid).saved_at is not None


def test_without_history_the_fix_lists_the_urls(
    genctl, sandbox: Sandbox, tmp_path: Path, disk_fills: None
) -> None:
    run = genctl("generate", "a fox", *FAL, "-o", "out", "--no-history", "--json", env=fal_env(sandbox))
    err = error_of(run)
    [url] = err["details"]["outputs"]
    assert err["fix"] == f"Free some space or choose another folder: its outputs stay about an hour at: {url}"
    assert "the history is off, so the URLs are listed in the fix" in err["message"]


def test_fal_result_gone_is_output_expired_with_when(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *FAL, "--no-wait", env=fal_env(sandbox))
    rid = run.stdout.strip()
    sandbox.inject(
        Fault.http(404, {"detail": "Request not found"}, provider="fal.queue", path=rf"/requests/{rid}$")
    )
    gone = genctl("result", rid, "--json", env=fal_env(sandbox))
    assert gone.exit_code == 1
    err = error_of(gone)
    assert (err["code"], err["request_id"], err["http_status"]) == ("output.expired", rid, 404)
    assert (
        "fal keeps a result 1 hour after the job completes, only 6 minutes when it is 10 KB or more"
        in (err["message"])
    )
    assert "was submitted" in err["message"] and "not seen to finish" in err["message"]
    assert err["details"]["retention_seconds"] == 3600 and err["details"]["provider_said"]
    assert err["fix"].startswith("It cannot be recovered: run the generation again (it is charged again).")
    assert (row(rid).status, row(rid).error_code) == ("failed", "output.expired")


def test_replicate_data_removed_is_output_expired(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate", "[sandbox:data_removed] a fox", *REPLICATE, "--no-wait", env=replicate_env(sandbox)
    )
    rid = run.stdout.strip()
    gone = genctl("result", rid, "--json", env=replicate_env(sandbox))
    assert gone.exit_code == 1
    err = error_of(gone)
    assert err["code"] == "output.expired"
    assert "Replicate deletes the outputs of an API prediction after 1 hour" in err["message"]
    assert err["details"]["retention_seconds"] == 3600
    listed = json.loads(genctl("history", "--status", "failed", "--json").stdout)["jobs"]
    assert [j["error"]["code"] for j in listed] == ["output.expired"]


def test_a_saved_url_gone_an_hour_later_says_when_it_was_lost(
    genctl, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as full:
        full.setattr(os, "fsync", _no_space)  # the save fails: the URL is in history, the file is not
        rid = error_of(genctl("generate", "a fox", *FAL, "-o", "out", "--json", env=fal_env(sandbox)))[
            "request_id"
        ]
    completed = time.time() - 7200  # as if the job had completed two hours ago
    History().update("fal", rid, completed_at=completed, result_bytes=200)
    sandbox.inject(Fault.http(404, "Not Found", provider="media"))
    gone = genctl("result", rid, "-o", "ok", "--json", env=fal_env(sandbox))
    assert gone.exit_code == 1
    err = error_of(gone)
    assert err["code"] == "output.expired"
    from genctl.keys import iso, timestamp

    lost = completed + 3600
    assert f"so it was lost at about {timestamp(lost, time.time())}" in err["message"]
    assert err["details"]["lost_at"] == iso(lost) and err["details"]["completed_at"] == iso(completed)


def test_expired_picks_the_retention_by_result_size() -> None:
    from genctl.keys import iso

    now = 1_000_000.0
    base = JobRecord(
        provider="fal", model="m", request_id="r", status="succeeded", submitted_at=now - 900, updated_at=now
    )
    cause = error("output.expired", "gone", http_status=404)
    small = expired(
        cause, JobRecord(**{**base.__dict__, "completed_at": now - 600, "result_bytes": 900}), now=now
    )
    assert small.details["lost_at"] == iso(now) and small.details["retention_seconds"] == 3600
    assert "is gone before its time" in small.message  # 10 min old, kept 1 h: gone early
    large = expired(
        cause, JobRecord(**{**base.__dict__, "completed_at": now - 600, "result_bytes": 20_000}), now=now
    )
    assert large.details["retention_seconds"] == 360 and large.details["lost_at"] == iso(now - 240)
    assert "so it was lost at about" in large.message  # 10 min old, kept 6 min: lost 4 min ago


def test_result_names_what_it_cannot_find(genctl, sandbox: Sandbox) -> None:
    missing = genctl("result", "no-such-job")
    assert missing.exit_code == 2
    assert "Error [usage.invalid]: No job 'no-such-job' in the history" in missing.stderr
    rid = genctl("generate", "a fox", *FAL, "--no-wait", env=fal_env(sandbox)).stdout.strip()
    other = genctl("result", rid, "--json", env=fal_env(sandbox, sk.FAL_KEY_OK_2))
    assert other.exit_code == 3
    err = error_of(other)
    assert err["code"] == "key.missing"
    assert f"The fal key that submitted request {rid} (env:FAL_KEY, fingerprint" in err["message"]
    assert "A key labelled env:FAL_KEY is configured, but it is a different key." in err["message"]
    assert err["fix"] == (
        f"Give genctl that key again (FAL_KEY=…, or `genctl keys add fal --label env:FAL_KEY`), then run "
        f"`genctl result {rid}` again."
    )
