"""`--timeout N` is the deadline of the whole command, on the wall clock, against hosts that hang or trickle.

The hostile hosts are loopback proxies in front of the sandbox (tests/hostile_servers.py, to be replaced by
the sandbox's own faults). Each hanging or trickling answer would take far longer than the test allows
(HANG_MAX, or a byte every 0.2 s): a broken deadline fails the test instead of passing slowly.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from genctl import generation, spend
from genctl.history import History
from genctl.sandbox import Sandbox
from tests.hostile_servers import hostile
from tests.test_generate import fal_env

FAL = ("-m", "fal-ai/flux/schnell")
SUBMIT = r"^/fal/queue/fal-ai/flux/schnell$"
STATUS = r"/requests/[^/]+/status"
SCHEMA = r"^/fal/api/v1/models"
PRICING = r"^/fal/api/v1/models/pricing"


def error_of(run) -> dict:  # type: ignore[no-untyped-def]
    doc = json.loads(run.stdout.splitlines()[-1])
    assert doc["ok"] is False and "Traceback" not in run.stderr
    return doc["error"]


def test_a_submit_that_never_answers_ends_at_the_deadline(genctl, sandbox: Sandbox) -> None:
    with hostile(sandbox.url) as proxy:
        proxy.rule("hang", method="POST", path=SUBMIT)
        run = genctl("generate", "a fox", *FAL, "--timeout", "1.5", "--json", env=proxy.env(fal_env(sandbox)))
        cuts = proxy.cut("hang")
    assert run.exit_code == 7
    err = error_of(run)
    assert err["code"] == "generation.timeout"
    assert err["message"].startswith(
        "Stopped waiting for fal (127.0.0.1) to answer: the 1.5 s deadline (--timeout) ran out. "
        "The submit was sent and no answer came: fal may have started a job"
    )
    assert err["details"] == {"deadline": "the 1.5 s deadline (--timeout)", "sent": True}
    assert cuts == [True]
    # No request id came back: the submit stays recorded as unconfirmed, for `genctl result --pending`.
    assert [row.status for row in History().recent()] == ["unconfirmed"]
    assert err["fix"].startswith("`genctl result --pending` finds the job in fal's recent requests")


def test_a_status_that_trickles_is_cut_at_the_deadline_and_the_job_cancelled(
    genctl, sandbox: Sandbox
) -> None:
    sandbox.configure(never_finish=True)
    with hostile(sandbox.url) as proxy:
        proxy.rule("trickle", path=STATUS)  # one byte every 0.2 s: never a read timeout, never an answer
        run = genctl("generate", "a fox", *FAL, "--timeout", "1.5", "--json", env=proxy.env(fal_env(sandbox)))
        cuts = proxy.cut("trickle")
    assert run.exit_code == 7
    err = error_of(run)
    rid = err["request_id"]
    assert err["code"] == "generation.timeout"
    assert err["message"] == (
        f"The generation did not finish within 1.5 s (request {rid}); the remote job was cancelled."
    )
    assert [c.request_id for c in sandbox.cancels] == [rid]
    assert cuts == [True]  # genctl hung up mid-trickle
    [row] = History().recent()
    assert (row.status, row.error_code) == ("failed", "generation.timeout")


def test_status_headers_that_trickle_are_cut_too(genctl, sandbox: Sandbox) -> None:
    sandbox.configure(never_finish=True)
    with hostile(sandbox.url) as proxy:
        proxy.rule("trickle_headers", path=STATUS)
        run = genctl("generate", "a fox", *FAL, "--timeout", "1.5", "--json", env=proxy.env(fal_env(sandbox)))
        cuts = proxy.cut("trickle_headers")
    assert run.exit_code == 7
    assert error_of(run)["code"] == "generation.timeout"
    assert len(sandbox.cancels) == 1
    assert cuts == [True]


def test_a_download_that_trickles_ends_at_the_deadline_and_keeps_the_job(genctl, sandbox: Sandbox) -> None:
    with hostile(sandbox.url) as proxy:
        proxy.rule("trickle", path=r"^/media/")
        run = genctl("generate", "a fox", *FAL, "--timeout", "2", "--json", env=proxy.env(fal_env(sandbox)))
        cuts = proxy.cut("trickle")
    assert run.exit_code == 7
    err = error_of(run)
    rid = err["request_id"]
    assert err["code"] == "network.timeout"
    assert "did not finish within the 2 s deadline (--timeout)" in err["message"]
    assert f"The job {rid} succeeded" in err["message"]
    assert err["fix"].startswith(f"genctl result {rid} -o OTHER_DIR saves them")
    assert list(Path().glob("*.png")) == [] and list(Path().glob(".*.part")) == []
    assert cuts == [True]


def test_a_hanging_catalogue_costs_the_preflight_budget_then_the_generation_goes_on(
    genctl, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generation, "PREFLIGHT_LIMIT", 0.5)  # the knob, shortened: the default is 5 s
    with hostile(sandbox.url) as proxy:
        proxy.rule("hang", path=SCHEMA)
        run = genctl("generate", "a fox", *FAL, env=proxy.env(fal_env(sandbox)))
    assert run.exit_code == 0, run.stderr
    [line] = run.stdout.splitlines()
    assert Path(line).is_file()
    notice = next(line for line in run.stderr.splitlines() if line.startswith("Input not checked"))
    assert notice.startswith(
        "Input not checked: the schema of fal-ai/flux/schnell could not be fetched (network.timeout: "
    )


def test_a_hanging_price_api_never_holds_the_result(
    genctl, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(spend, "PRICE_LIMIT", 0.3)  # the knob, shortened: the default is 2 s
    config = tmp_path / "config.toml"
    config.write_text("[providers.fal]\ntimeout = 120\n")  # a read timeout alone would outlast the test
    with hostile(sandbox.url) as proxy:
        proxy.rule("hang", path=PRICING)
        run = genctl(
            "--config", str(config), "generate", "a fox", *FAL, "--json", env=proxy.env(fal_env(sandbox))
        )
        cuts = proxy.cut("hang")
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert Path(doc["outputs"][0]["path"]).is_file()
    assert doc["cost"]["basis"] == "unknown"
    assert cuts == [True]  # the look-up was given up, not waited out


def test_without_timeout_a_host_that_never_answers_ends_after_the_exchange_limit(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[providers.fal]\ntimeout = 0.5\n")  # one exchange: 2 × 0.5 s at most
    with hostile(sandbox.url) as proxy:
        proxy.rule("hang", method="POST", path=SUBMIT)
        run = genctl(
            "--config", str(config), "generate", "a fox", *FAL, "--no-validate", "--json",
            env=proxy.env(fal_env(sandbox)),
        )  # fmt: skip
        cuts = proxy.cut("hang")
    assert run.exit_code == 7
    err = error_of(run)
    assert err["code"] == "network.timeout"
    assert err["message"] == "fal (127.0.0.1) did not answer in time (ReadTimeout)."
    assert cuts == [True]  # one try: a paid submit is not retried


def test_a_key_state_lock_held_elsewhere_ends_at_the_deadline_and_nothing_is_submitted(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    hermetic_env.mkdir(parents=True, exist_ok=True)
    state = hermetic_env / "state"
    state.mkdir(exist_ok=True)
    fd = os.open(state / "keys.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another genctl, stuck while holding it
    try:
        run = genctl("generate", "a fox", *FAL, "--timeout", "1", "--json", env=fal_env(sandbox))
    finally:
        os.close(fd)
    assert run.exit_code == 7
    err = error_of(run)
    assert err["code"] == "generation.timeout"
    assert "waiting for the key-state lock (another genctl holds it)" in err["message"]
    assert sandbox.count(method="POST", host="fal.queue") == 0  # no submit after the deadline


def test_the_deadline_covers_the_fallback_too(genctl, sandbox: Sandbox) -> None:
    env = {**fal_env(sandbox), "REPLICATE_API_TOKEN": "r8_" + "a" * 37, "GENCTL_FALLBACK": "fal,replicate"}
    with hostile(sandbox.url) as proxy:
        proxy.rule("hang", method="POST", path=SUBMIT)
        run = genctl(
            "generate", "a fox", "-m", "flux-schnell", "--timeout", "1.5", "--json", env=proxy.env(env)
        )
    assert run.exit_code == 7
    assert error_of(run)["code"] == "generation.timeout"
    assert sandbox.count(method="POST", host="replicate") == 0  # a submit that may have landed: no second one
