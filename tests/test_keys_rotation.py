"""Round-robin across separate `genctl generate` processes, sequential and 8 at once, against one sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from genctl.values import fingerprint
from tests.conftest import run_subprocess

FAL_KEY_4 = "00000000-0000-4000-8000-000000000004:5a4d0000000000000000000000000004"
KEYS = [sk.FAL_KEY_OK, sk.FAL_KEY_OK_2, sk.FAL_KEY_ADMIN, FAL_KEY_4]


def submitted_with(box: Sandbox) -> list[str | None]:
    """The key fingerprint of each fal submit, in the order the sandbox saw them."""
    return [r.key_fingerprint for r in box.requests if r.host == "fal.queue" and r.method == "POST"]


def test_separate_processes_take_the_keys_in_turn(sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": ",".join(KEYS[:3])}
    labels = []
    for _ in range(4):
        run = run_subprocess(
            "generate", "a fox", "-m", "fal-ai/flux/schnell", "--json", "--no-download", env=env
        )
        assert run.exit_code == 0, run.stderr
        labels.append(json.loads(run.stdout)["key_label"])
    assert labels == ["env:FAL_KEY", "env:FAL_KEY#2", "env:FAL_KEY#3", "env:FAL_KEY"]
    assert submitted_with(sandbox) == [fingerprint(k) for k in (*KEYS[:3], KEYS[0])]
    run = run_subprocess("keys", "status", env=env)
    assert run.exit_code == 0, run.stderr
    assert run.lines[-2] == "fal: 3 keys, 3 usable, next: env:FAL_KEY#2"


def test_concurrent_processes_spread_evenly_with_no_lost_update(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {**os.environ, **sandbox.env(), "FAL_KEY": ",".join(KEYS)}
    command = [
        sys.executable,
        "-m",
        "genctl",
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/schnell",
        "--no-download",
    ]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)  # two takes of each of the 4 keys, all at once
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
    seen = submitted_with(sandbox)
    assert len(seen) == 8
    assert {fp: seen.count(fp) for fp in set(seen)} == {fingerprint(key): 2 for key in KEYS}
    state = json.loads((tmp_path / "genctl-home" / "state" / "keys.json").read_text())
    assert state["providers"]["fal"]["next"] == 0  # 8 takes over 4 keys: back at the first
