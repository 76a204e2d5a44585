"""Leak test (#12): plant keys no server knows (fal `id:secret`, Replicate `r8_…`) and run the commands a
user runs — generate (rejected key, dry run, --debug), models, doctor and its --report, keys status and
--check, history, result — then grep stdout, stderr, the report and every file under GENCTL_HOME (sqlite
as its SQL dump and raw bytes) for each key in every form (tests/leak_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genctl.sandbox import Sandbox
from tests.conftest import run_subprocess
from tests.leak_support import home_text, leaks
from tests.support import FAL_SECRET

REPLICATE_SECRET = "r8_Zq9XwV3kLm7Np2Rt5Yb8Cd4Fg6Hj1Ks0Qe3"
COMMANDS = [
    ("generate", "a fox", "-m", "fal-ai/flux/schnell"),
    ("generate", "a fox", "-m", "fal-ai/flux/schnell", "--json"),
    ("generate", "a fox", "-m", "fal-ai/flux/schnell", "--dry-run"),
    ("generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--json"),
    ("generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--dry-run"),
    ("--debug", "generate", "a fox", "-m", "fal-ai/flux/schnell"),
    ("models", "list", "--json"),
    ("doctor", "--json"),
    ("keys", "status"),
    ("keys", "status", "--check", "--json"),
    ("history", "--json"),
    ("result", "00000000-dead-beef-0000-000000000000", "--json"),
]


def assert_clean(text: str, where: str) -> None:
    for key in (FAL_SECRET, REPLICATE_SECRET):
        assert leaks(text, key) == [], f"{where}: {leaks(text, key)}"


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_no_form_of_a_planted_key_in_any_output(
    genctl, sandbox: Sandbox, hermetic_env: Path, args: tuple[str, ...]
) -> None:
    env = {**sandbox.env(), "FAL_KEY": FAL_SECRET, "REPLICATE_API_TOKEN": REPLICATE_SECRET}
    run = genctl(*args, env=env)
    assert "Traceback" not in run.stderr or args[0] == "--debug"
    assert "No such" not in run.stderr  # the command really ran
    assert run.exit_code != 2 or args[0] == "result", run.stderr  # an unknown id is usage.invalid
    assert_clean(run.stdout, "stdout")
    assert_clean(run.stderr, "stderr")
    if hermetic_env.exists():
        assert_clean(home_text(hermetic_env), "GENCTL_HOME")


def test_no_form_of_a_planted_key_in_the_doctor_report_or_a_debug_subprocess(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = {**sandbox.env(), "FAL_KEY": FAL_SECRET, "REPLICATE_API_TOKEN": REPLICATE_SECRET}
    report = tmp_path / "report.md"
    for args in (
        ("doctor", "--report", str(report)),
        ("--debug", "generate", "a fox", "-m", "fal-ai/flux/schnell"),
    ):
        run = run_subprocess(*args, env=env, timeout=120)
        assert_clean(run.stdout + run.stderr, " ".join(args))
    assert_clean(report.read_text(encoding="utf-8"), "doctor report")
