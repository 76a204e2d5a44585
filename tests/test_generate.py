"""`genctl generate` end to end through the CLI, against the sandbox over loopback HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK
from tests.conftest import run_on_tty, run_subprocess
from tests.support import PNG, fal_env, replicate_env


def test_sandbox_main_job_needs_no_key(tmp_path: Path) -> None:
    run = run_subprocess("generate", "--sandbox", "a lighthouse at dusk")
    assert run.exit_code == 0, run.stderr
    [line] = run.lines
    path = tmp_path / line
    assert path.read_bytes().startswith(PNG)
    assert re.fullmatch(r"fal-ai-flux-schnell-[0-9a-z]{8}-1\.png", path.name)


def test_fal_two_images_into_output_dir(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/schnell",
        "-p",
        "image_size=square_hd",
        "-p",
        "num_images=2",
        "-o",
        "out/",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 0, run.stderr
    assert len(run.lines) == 2
    paths = [Path(line) for line in run.lines]
    assert all(p.parent == Path("out") for p in paths)
    data = [(tmp_path / p).read_bytes() for p in paths]
    assert all(d.startswith(PNG) for d in data)
    assert data[0] != data[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    submitted = [r for r in sandbox.requests if r.method == "POST" and "/fal/queue/" in r.path]
    assert len(submitted) == 1


def test_replicate_json(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    run = genctl(
        "generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--json", env=replicate_env(sandbox)
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["ok"] is True
    assert doc["provider"] == "replicate"
    assert doc["model"] == "black-forest-labs/flux-schnell"
    assert doc["key"] == f"{REPLICATE_TOKEN_OK[:4]}…{REPLICATE_TOKEN_OK[-4:]}"
    [output] = doc["outputs"]
    assert output["content_type"] == "image/png"
    assert (tmp_path / output["path"]).stat().st_size == output["bytes"] > 0
    assert output["url"].startswith(sandbox.url)
    assert isinstance(doc["seconds"], float)


def test_prompt_from_stdin_quiet(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "-",
        "-m",
        "fal-ai/flux/dev",
        "--quiet",
        "--json",
        env=fal_env(sandbox),
        input="a prompt from a pipe\n",
    )
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None
    assert job.input == {"prompt": "a prompt from a pipe"}


def test_no_download_prints_urls_and_saves_nothing(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/schnell", "--no-download", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    [url] = run.lines
    assert url.startswith(sandbox.url)
    assert not list(tmp_path.glob("*.png"))


def test_dry_run_sends_nothing_and_masks_the_key(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate", "a fox", "-m", "fal-ai/flux/dev", "-p", "seed=7", "--dry-run", env=fal_env(sandbox)
    )
    assert run.exit_code == 0, run.stderr
    [line] = run.lines
    assert line.startswith("curl ")
    assert f"{sandbox.url}/fal/queue/fal-ai/flux/dev" in line
    assert "$FAL_KEY" in line
    assert FAL_KEY_OK not in run.stdout + run.stderr
    assert '"seed": 7' in line or '"seed":7' in line
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("item", "message"),
    [("num_images", "KEY=VALUE"), ("tags:=[oops", "not JSON"), ("9x=1", "not a parameter name")],
)
def test_bad_param_is_a_usage_error(genctl, sandbox: Sandbox, item: str, message: str) -> None:
    run = genctl("generate", "a fox", "-p", item, env=fal_env(sandbox))
    assert run.exit_code == 2
    assert message in run.stderr
    assert "Fix:" in run.stderr
    assert sandbox.requests == []


def test_missing_key_names_the_env_var(genctl) -> None:
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--json")
    assert run.exit_code == 3
    doc = json.loads(run.stdout)
    assert doc["ok"] is False
    assert doc["error"]["code"] == "key.missing"
    assert "FAL_KEY" in doc["error"]["fix"]
    assert "Traceback" not in run.stderr


def test_plain_progress_lines_when_stderr_is_not_a_tty(genctl, sandbox: Sandbox) -> None:
    prompt = "[sandbox:queue=2][sandbox:progress=2] a fox"
    run = genctl("generate", prompt, "-m", "fal-ai/flux/dev", env=fal_env(sandbox))
    assert run.exit_code == 0
    # A CI log gets each state once (no spinner frames, no carriage returns) and every model log line.
    shown = [re.sub(r" · \d+s$", " · Ns", line) for line in run.stderr.splitlines()]
    rid = re.search(r"Submitted (\S+) ·", run.stderr).group(1)  # type: ignore[union-attr]
    assert shown == [
        "Submitting · Ns",
        f"Submitted {rid} · Ns",
        "In queue (position 2) · Ns",  # position 1 follows within QUEUE_EVERY: not repeated
        "Running · Ns",
        "  step 1/2",
        "  step 2/2",
        "Downloading · Ns",
        "$0.025 · 1 image",  # the cost (issue #15)
    ]
    assert "\r" not in run.stderr and "\x1b" not in run.stderr
    assert run.stdout.strip().endswith(".png")


def test_quiet_silences_progress_off_a_tty(genctl, sandbox: Sandbox) -> None:
    prompt = "[sandbox:queue=2][sandbox:progress=2] a fox"
    run = genctl("generate", prompt, "-m", "fal-ai/flux/dev", "--quiet", env=fal_env(sandbox))
    assert run.exit_code == 0
    assert run.stderr == ""


def test_no_color_keeps_the_progress_on_a_tty(sandbox: Sandbox) -> None:
    prompt = "[sandbox:queue=2][sandbox:progress=2] a fox"
    sandbox.configure(status_stream_tick=0.3)
    run = run_on_tty("generate", prompt, "-m", "fal-ai/flux/dev", env={**fal_env(sandbox), "NO_COLOR": "1"})
    assert run.exit_code == 0
    assert "In queue (position" in run.screen and "step 2/2" in run.screen  # the news, without colour
    assert "\x1b[3" not in run.screen  # no colour sequence


def test_progress_on_a_tty_shows_queue_position_and_logs(sandbox: Sandbox) -> None:
    prompt = "[sandbox:queue=2][sandbox:progress=2] a fox"
    # Each status on fal's stream stays 0.3 s, long enough for the status line to show it.
    sandbox.configure(status_stream_tick=0.3)
    run = run_on_tty("generate", prompt, "-m", "fal-ai/flux/dev", env=fal_env(sandbox))
    assert run.exit_code == 0
    assert "In queue (position" in run.screen
    assert "step 2/2" in run.screen
    assert run.stdout.strip().endswith(".png")  # results stay on stdout, free of progress


def test_sandbox_jobs_stay_out_of_history(genctl, hermetic_env: Path) -> None:
    run = genctl("generate", "--sandbox", "a fox", "--json")
    assert run.exit_code == 0, run.stderr
    history = genctl("history", "--json")
    assert json.loads(history.stdout)["jobs"] == []


def test_sandbox_runs_leave_the_key_state_alone(genctl, hermetic_env: Path) -> None:
    """The demo keys' rotation and checks stay in the run: the user's keys.json never hears of them."""
    assert genctl("generate", "--sandbox", "a fox", "--json").exit_code == 0
    assert genctl("keys", "status", "--check", "--sandbox", "--json").exit_code == 0
    assert not (hermetic_env / "state" / "keys.json").exists()
