"""The Markdown report of a mixed scenario (every failing check in it, no secret anywhere), and "one
diagnosis, everywhere": doctor, `generate` and `keys status --check` show a problem the same way."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from tests.test_secrets import FAL_SECRET, REPLICATE_SECRET, assert_clean, assert_files_clean

MODELS = ["fal-ai/flux-dev", "fal-ai/flux/schnell", "gpt-4o-mini", "stability-ai/sdxl"]
MODELS += ["black-forest-labs/flux-schnell"]
SECRETS = [
    FAL_SECRET,
    *FAL_SECRET.split(":"),
    REPLICATE_SECRET,
    REPLICATE_SECRET[3:],
    sk.FAL_KEY_LOCKED_BALANCE,
    *sk.FAL_KEY_LOCKED_BALANCE.split(":"),
    sk.REPLICATE_TOKEN_INVALID,
    sk.REPLICATE_TOKEN_INVALID[3:],
]


@pytest.fixture
def mixed(sandbox: Sandbox, hermetic_env: Path) -> dict[str, str]:
    """Two fal keys (one locked), two Replicate tokens (one invalid), a config default the schema rejects."""
    hermetic_env.mkdir(parents=True, exist_ok=True)
    config = hermetic_env / "config.toml"
    config.write_text('[models."fal-ai/flux/schnell"]\nnum_images = 9\n')
    config.chmod(0o600)
    return {
        **sandbox.env(),
        "FAL_KEY": f"{FAL_SECRET},{sk.FAL_KEY_LOCKED_BALANCE}",
        "REPLICATE_API_TOKEN": f"{REPLICATE_SECRET},{sk.REPLICATE_TOKEN_INVALID}",
    }


def test_report_of_a_mixed_scenario(genctl, mixed: dict[str, str], tmp_path: Path) -> None:
    report = tmp_path / "reports" / "doctor.md"
    report.parent.mkdir()  # genctl never creates a missing folder (test_doctor_report_paths.py)
    args = ["--json", "--report", str(report), *(arg for m in MODELS for arg in ("-m", m))]
    run = genctl("doctor", *args, env=mixed)
    assert run.exit_code == 1
    assert f"Report written to {report}" in run.stderr
    failing = [c for c in json.loads(run.stdout)["checks"] if c["status"] == "fail"]
    assert {c["code"] for c in failing} == {
        "key.locked",
        "key.invalid",
        "model.not_found",
        "model.wrong_kind",
        "model.needs_version",
        "payload.invalid",
    }
    text = report.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## Test results",
        "## Detailed findings",
        "## Fix recommendations, in priority order",
        "## Working calls",
    ]
    summary = text.split("## Test results")[0]
    assert "**6 failed," in summary
    causes = re.findall(r"^\d+\. \*\*`([a-z._]+)`\*\*", summary, re.MULTILINE)
    # Root causes first, the most fundamental first: keys before models, models before their input.
    assert causes == [
        "key.locked",
        "key.invalid",
        "model.not_found",
        "model.wrong_kind",
        "model.needs_version",
        "payload.invalid",
    ]
    table = text.split("## Test results")[1].split("## Detailed findings")[0]
    details = text.split("## Detailed findings")[1].split("## Fix recommendations")[0]
    for check in failing:
        row = next(
            line for line in table.splitlines() if check["subject"] in line and f"`{check['code']}`" in line
        )
        assert "| ✗ fail |" in row
        assert f"— `{check['code']}`" in details and check["fix"].split(";")[0].strip() in text
    fixes = text.split("## Fix recommendations, in priority order")[1].split("## Working calls")[0]
    assert fixes.index("`key.") < fixes.index("`model.") < fixes.index("`payload.invalid`")
    calls = text.split("## Working calls")[1]
    assert "fal-ai/flux/schnell" not in calls  # its config default fails: no working call to show
    assert '-H "Authorization: Bearer $REPLICATE_API_TOKEN"' in calls
    assert "/replicate/v1/models/black-forest-labs/flux-schnell/predictions" in calls
    assert_clean(text + run.stdout + run.stderr, SECRETS)


def test_no_secret_in_any_doctor_output(
    genctl, mixed: dict[str, str], tmp_path: Path, hermetic_env: Path
) -> None:
    runs = [
        genctl(
            "doctor",
            "--verbose",
            "--report",
            str(tmp_path / "r.md"),
            *(a for m in MODELS for a in ("-m", m)),
            env=mixed,
        ),
        genctl("doctor", "--json", "--live", "--yes", env=mixed),
        genctl("--debug", "doctor", "--verbose", env=mixed),
        genctl("doctor", "--offline", "--json", env=mixed),
    ]
    assert [run.exit_code for run in runs] == [
        1,
        1,
        1,
        1,
    ]  # offline too: the cached schema rejects the default
    for run in runs:
        assert_clean(run.stdout + run.stderr, SECRETS)
    assert_files_clean(tmp_path, SECRETS)


def test_working_call_for_a_fal_model(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    report = tmp_path / "ok.md"
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK}
    run = genctl("doctor", "-m", "fal-ai/flux/dev", "--report", str(report), env=env)
    assert run.exit_code == 0
    text = report.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("curl "))
    assert line == (
        f'curl -sS -X POST {sandbox.url}/fal/queue/fal-ai/flux/dev -H "Authorization: Key $FAL_KEY" '
        "-H 'Accept: application/json' -H 'Content-Type: application/json' "
        '--data-raw \'{"prompt": "a lighthouse at dusk"}\''
    )
    assert "no problems found" in text
    assert sk.FAL_KEY_OK.split(":")[1] not in text


# -- one diagnosis, everywhere ------------------------------------------------------------------------------


def test_locked_key_reads_the_same_in_doctor_keys_status_and_generate(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_LOCKED_BALANCE}
    run = genctl("doctor", "--json", env=env)
    doctor = next(c for c in json.loads(run.stdout)["checks"] if c["id"] == "keys.fal.env:FAL_KEY")
    code, message, fix = doctor["code"], doctor["message"], doctor["fix"]
    assert code == "key.locked"

    status = genctl("keys", "status", "--check", "--json", env=env)
    check = json.loads(status.stdout)["providers"]["fal"]["keys"][0]["check"]
    assert (check["code"], check["message"], check["fix"]) == (code, message, fix)
    text = genctl("keys", "status", "--check", env=env)
    assert f"Warning [{code}]: {message}\nFix: {fix}\n" in text.stderr

    generated = genctl("generate", "a fox", "--json", env=env)
    err = json.loads(generated.stdout)["error"]
    assert err["code"] == code
    # The pool lists each key's own diagnosis (the key named by its label) and starts with its fix.
    assert message.replace("env:FAL_KEY (0000…00e2)", "env:FAL_KEY") in err["message"]
    assert err["fix"].startswith(fix)


def test_unknown_model_reads_the_same_in_doctor_and_generate(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK}
    err = json.loads(genctl("generate", "a fox", "-m", "fal-ai/flux-dev", "--json", env=env).stdout)["error"]
    run = genctl("doctor", "--json", "-m", "fal-ai/flux-dev", env=env)
    check = next(c for c in json.loads(run.stdout)["checks"] if c["id"] == "models.fal.fal-ai/flux-dev")
    assert (check["code"], check["message"], check["fix"]) == (err["code"], err["message"], err["fix"])
    assert check["details"]["suggestions"] == err["details"]["suggestions"]


def test_generate_error_renders_through_a_finding(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_NO_BILLING}
    run = genctl("generate", "a fox", "-m", "black-forest-labs/flux-schnell", env=env)
    assert run.exit_code == 3
    doctor = genctl("doctor", "--json", "--live", "--yes", "--provider", "replicate", env=env)
    live = next(c for c in json.loads(doctor.stdout)["checks"] if c["id"] == "live.replicate")
    assert live["code"] == "billing.required"
    assert f"Fix: {live['fix']}" in run.stderr
    assert live["message"].split(": ", 1)[1] in run.stderr  # Replicate's own words, as generate shows them
