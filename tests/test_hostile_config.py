"""Regression tests (#12) for hostile config files, flags and prompts, through the CLI: each is one
`Error [code]: …` + `Fix: …` line pair with the code's documented exit code, never a traceback, never a
block, and nothing is sent to the provider."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from genctl.errors import CODES
from genctl.sandbox import Sandbox
from tests.conftest import run_subprocess
from tests.support import fal_env

pytestmark = pytest.mark.usefixtures("home")

DEEP = "[" * 5000 + "]" * 5000


def _exit(code: str) -> int:
    return CODES[code][0]


def _posts(box: Sandbox) -> list[str]:
    return [r.path for r in box.requests if r.method == "POST"]


def _config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _one_error(stderr: str, code: str) -> str:
    """The message of the single error stderr ends with; asserts the two-line shape."""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert lines[-2].startswith(f"Error [{code}]: "), stderr
    assert lines[-1].startswith("Fix: "), stderr
    return lines[-2].removeprefix(f"Error [{code}]: ")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[::1", "not an invalid URL (a malformed [IPv6] address)"),
        ("http://localhost:abc/queue", "not an invalid URL (a port that is not 1-65535)"),
    ],
    ids=["ipv6-unclosed", "port-not-a-number"],
)
def test_a_broken_url_in_config_is_config_invalid(
    genctl, sandbox: Sandbox, home: Path, url: str, why: str
) -> None:
    path = _config(home, f'[providers.fal]\nqueue_url = "{url}"\n')
    env = fal_env(sandbox)
    env.pop("GENCTL_FAL_QUEUE_URL")
    run = genctl("generate", "a fox", env=env)
    assert run.exit_code == _exit("config.invalid")
    assert _one_error(run.stderr, "config.invalid") == (
        f"[providers.fal] queue_url in {path} must be an http:// or https:// URL, {why}"
    )
    assert _posts(sandbox) == []


def test_a_broken_url_in_config_is_a_failed_doctor_check(genctl, sandbox: Sandbox, home: Path) -> None:
    _config(home, '[providers.fal]\nqueue_url = "http://[::1"\n')
    env = fal_env(sandbox)
    env.pop("GENCTL_FAL_QUEUE_URL")
    run = genctl("doctor", "--json", env=env)
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    assert run.exit_code in {code for code, _ in CODES.values()}
    assert "config.invalid" in json.dumps(report)


def test_credentials_in_a_config_url_are_refused_never_printed_never_sent(
    genctl, sandbox: Sandbox, home: Path
) -> None:
    base = sandbox.env()["GENCTL_FAL_QUEUE_URL"].replace("http://", "http://someone:hunter2pass@")
    _config(home, f'[providers.fal]\nqueue_url = "{base}"\n')
    env = fal_env(sandbox)
    env.pop("GENCTL_FAL_QUEUE_URL")
    report = home / "report.md"
    runs = [
        genctl("generate", "a fox", env=env),
        genctl("generate", "a fox", "--dry-run", "--json", env=env),
        genctl("config", "show", env=env),
        genctl("doctor", "--report", str(report), env=env),
    ]
    for run in runs:
        assert "hunter2pass" not in run.stdout + run.stderr
    assert "hunter2pass" not in report.read_text(encoding="utf-8")
    assert "user name or password" in runs[0].stderr
    assert runs[0].exit_code == _exit("config.invalid")
    # the URL is never used, so no Authorization: Basic ever replaced the key header
    assert [path for path in _posts(sandbox) if path.startswith("/fal/queue")] == []


def test_a_config_file_that_is_a_fifo_does_not_block(sandbox: Sandbox, tmp_path: Path) -> None:
    """A real process: a blocked open would hang it (the timeout only guards the test run)."""
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    run = run_subprocess("--config", str(fifo), "generate", "a fox", env=fal_env(sandbox), timeout=60)
    assert run.exit_code == _exit("config.invalid")
    assert _one_error(run.stderr, "config.invalid") == f"config file {fifo} is not a regular file"


def test_arrays_5000_deep_in_config_are_config_invalid(genctl, sandbox: Sandbox, home: Path) -> None:
    path = _config(home, f"x = {DEEP}\n")
    run = genctl("generate", "a fox", "--dry-run", env=fal_env(sandbox))
    assert run.exit_code == _exit("config.invalid")
    assert (
        _one_error(run.stderr, "config.invalid")
        == f"config file {path} nests arrays or tables too deeply to read"
    )


def test_json_5000_deep_in_p_is_usage_invalid(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "-p", f"x:={DEEP}", "--no-validate", "--dry-run", env=fal_env(sandbox))
    assert run.exit_code == _exit("usage.invalid")
    assert _one_error(run.stderr, "usage.invalid").endswith("...': the JSON nests too deeply to read.")


def test_a_negative_timeout_in_config_says_so(genctl, sandbox: Sandbox, home: Path) -> None:
    path = _config(home, "[defaults]\ntimeout = -5\n")
    run = genctl("generate", "a fox", "--dry-run", env=fal_env(sandbox))
    assert run.exit_code == _exit("config.invalid")
    message = _one_error(run.stderr, "config.invalid")
    assert message == f"[defaults] timeout in {path} must be a number of seconds greater than 0, not -5"
    assert "not an integer" not in run.stderr


@pytest.mark.parametrize("param", ["x:=NaN", "x=1e999", "x:=Infinity", "x:=-1e999"])
@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "send"])
def test_a_non_finite_p_is_one_line_and_valid_json(genctl, sandbox: Sandbox, param: str, dry: bool) -> None:
    args = ["generate", "a fox", "-p", param, "--no-validate", "--json", *(["--dry-run"] if dry else [])]
    run = genctl(*args, env=fal_env(sandbox))
    assert run.exit_code == _exit("usage.invalid")
    error = json.loads(run.stdout)["error"]  # strict JSON: no NaN/Infinity token reached stdout
    assert error["code"] == "usage.invalid"
    assert error["message"].endswith("is not a number a request can carry (NaN, Infinity or too large).")
    assert _posts(sandbox) == []


def test_a_non_finite_line_in_a_batch_sends_nothing_and_records_nothing(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    """README: a line holding NaN fails alone — nothing is sent or recorded for it — and the others run."""
    batch = tmp_path / "b.jsonl"
    batch.write_text(
        '{"prompt": "a fox"}\n{"prompt": "a cat", "params": {"x": NaN}}\n{"prompt": "an owl"}\n',
        encoding="utf-8",
    )
    run = genctl("generate", "--batch", str(batch), "--no-validate", "--json", env=fal_env(sandbox))
    assert run.exit_code == _exit("generation.failed")
    failed = [d for d in map(json.loads, run.stdout.splitlines()) if d.get("item") and not d["ok"]]
    assert [d["item"]["line"] for d in failed] == [2]
    assert failed[0]["error"]["message"].startswith(f"{batch}:2: -p 'x:=NaN': ")
    assert len(_posts(sandbox)) == 2  # lines 1 and 3
    history = genctl("history", "--json", env=fal_env(sandbox))
    assert (history.exit_code, json.loads(history.stdout)["count"]) == (0, 2)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "1e999"])
def test_a_non_finite_timeout_is_refused_before_anything_is_sent(
    genctl, sandbox: Sandbox, value: str
) -> None:
    run = genctl("generate", "a fox", "--timeout", value, env=fal_env(sandbox))
    assert run.exit_code == _exit("usage.invalid")
    message = _one_error(run.stderr, "usage.invalid")
    assert "--timeout" in message
    assert "0.1" in message
    assert sandbox.requests == []


def test_doctor_timeout_inf_is_one_line(genctl, sandbox: Sandbox) -> None:
    run = genctl("doctor", "--timeout", "inf", env=fal_env(sandbox))
    assert run.exit_code == _exit("usage.invalid")
    _one_error(run.stderr, "usage.invalid")


def test_a_prompt_that_is_not_utf8_from_argv_is_one_line(sandbox: Sandbox) -> None:
    """argv bytes reach Python as surrogate escapes; a real process is the only honest way to pass them."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "genctl", "generate", b"a \xff\xfe fox", "--dry-run"],
        env={**os.environ, **fal_env(sandbox)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = proc.stderr.decode("utf-8")
    assert proc.returncode == _exit("usage.invalid")
    assert (
        _one_error(stderr, "usage.invalid")
        == "the prompt is not valid UTF-8 text (byte 3 of it cannot be read)."
    )
    assert proc.stdout == b""


def test_a_prompt_that_is_not_utf8_from_stdin_is_one_line(sandbox: Sandbox) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "genctl", "generate", "-", "--dry-run", "--json"],
        env={**os.environ, **fal_env(sandbox)},
        input=b"a \xff fox\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == _exit("usage.invalid")
    error = json.loads(proc.stdout)["error"]
    assert error["message"] == "the prompt is not valid UTF-8 text (byte 3 of it cannot be read)."
    assert b"Traceback" not in proc.stderr
