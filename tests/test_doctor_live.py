"""`genctl doctor --live`: one real generation per provider on the cheapest model that passed, nothing kept;
it asks on a terminal and needs --yes in a script."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from tests.support import signal_when_seen
from tests.test_doctor import assert_check, doctor_json

SUBMITS = r"^/fal/queue/fal-ai/|/predictions$"


def both(box: Sandbox, fal: str = sk.FAL_KEY_OK, replicate: str = sk.REPLICATE_TOKEN_OK) -> dict[str, str]:
    return {**box.env(), "FAL_KEY": fal, "REPLICATE_API_TOKEN": replicate}


def test_live_runs_one_generation_per_provider_and_keeps_nothing(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    models = ["fal-ai/flux-pro/v1.1-ultra", "fal-ai/flux/schnell", "black-forest-labs/flux-schnell"]
    args = ["--live", "--yes", *(arg for m in models for arg in ("-m", m))]
    run, checks = doctor_json(genctl, *args, env=both(sandbox))
    assert run.exit_code == 0, run.stdout
    fal = checks["live.fal"]
    assert_check(fal, "ok", "ok")
    # schnell ($0.003/megapixel) is cheaper than ultra ($0.06/image): the live check runs the cheaper one.
    assert (fal["subject"], fal["details"]["model"]) == ("fal-ai/flux/schnell", "fal-ai/flux/schnell")
    assert fal["details"]["bytes"] > 0 and "not kept" in fal["message"]
    assert_check(checks["live.replicate"], "ok", "ok")
    assert sandbox.count(SUBMITS, method="POST") == 2
    assert sandbox.count(r"^/fal/queue/", method="POST") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genctl-home"]  # no output file left behind


def test_live_catches_the_402_a_free_probe_cannot(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor_json(
        genctl, "--live", "--yes", env=both(sandbox, replicate=sk.REPLICATE_TOKEN_NO_BILLING)
    )
    assert run.exit_code == 1
    assert_check(checks["keys.replicate.env:REPLICATE_API_TOKEN"], "ok", "ok")
    billing = checks["keys.replicate.env:REPLICATE_API_TOKEN.billing"]
    assert_check(billing, "skip", "billing.required")
    assert "checked by the live generation" in billing["message"]
    live = checks["live.replicate"]
    assert_check(live, "fail", "billing.required", "Set up billing at https://replicate.com/account/billing")
    assert live["details"]["http_status"] == 402
    assert_check(checks["live.fal"], "ok", "ok")


def test_live_skips_a_provider_without_a_working_key(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor_json(genctl, "--live", "--yes", env=both(sandbox, fal=sk.FAL_KEY_UNKNOWN))
    assert run.exit_code == 1
    assert_check(checks["live.fal"], "skip", "key.invalid", "Fix the keys above first.")
    assert sandbox.count(r"^/fal/queue/", method="POST") == 0


@pytest.mark.parametrize(("answer", "submits"), [("y\n", 2), ("n\n", 0)])
def test_live_asks_on_a_terminal(
    genctl, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, answer: str, submits: int
) -> None:
    # `genctl.cli.doctor` names the command function in genctl.cli; the module is in sys.modules.
    monkeypatch.setattr(sys.modules["genctl.cli.doctor"], "_stdin_is_terminal", lambda: True)
    run = genctl("doctor", "--live", env=both(sandbox), input=answer)
    assert run.exit_code == 0, run.stdout
    assert "billed to your account" in run.stderr
    assert sandbox.count(SUBMITS, method="POST") == submits
    assert ("[✓] Live generation · fal.ai" in run.stdout) == (submits > 0)


def test_live_in_a_script_needs_yes(genctl, sandbox: Sandbox) -> None:
    run = genctl("doctor", "--live", "--json", env=both(sandbox))
    assert run.exit_code == 2
    assert "Error [usage.invalid]" in run.stderr
    assert "Add --yes" in run.stderr
    assert sandbox.requests == []


def test_ctrl_c_during_live_cancels_the_paid_job(sandbox: Sandbox) -> None:
    sandbox.configure(never_finish=True)
    args = ["doctor", "--live", "--yes", "--provider", "fal"]
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK}
    proc = signal_when_seen(args, box=sandbox, env=env, pattern=r"/requests/[^/]+/status$", wait=30)
    stderr = proc.stderr
    assert proc.returncode == 130, stderr
    [cancel] = sandbox.cancels
    assert cancel.provider == "fal"
    assert "Traceback" not in stderr
