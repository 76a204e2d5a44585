"""Config edits from real, parallel `genctl keys add/remove` processes: none lost, comments kept."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from genctl import config_edit

pytestmark = pytest.mark.skipif(os.name == "nt", reason="flock and POSIX modes")

HEAD = (
    "# team settings: keep this\n[defaults]\ntimeout = 90  # CI is slow\n\n[providers.fal]\ntimeout = 60.0\n"
)
TAIL = '\n# per-model tuning, do not touch\n[models."fal-ai/flux/dev"]\nnum_inference_steps = 28  # tuned\n'


def fal_key(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}:5a4d{n:028d}"


def start(*args: str, stdin: str = "") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "genctl", "keys", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    return proc


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # a few lines each: no pipe fills up
    proc.stdout.close()
    proc.stderr.close()
    return proc.wait(timeout=120), stdout, stderr


def config_with(home: Path, middle: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(HEAD + middle + TAIL)
    path.chmod(0o600)
    return path


def labels(path: Path) -> list[str]:
    return [k["label"] for k in tomllib.loads(path.read_text())["providers"]["fal"].get("keys", [])]


def test_parallel_adds_all_land_and_the_comments_stay_byte_for_byte(hermetic_env: Path) -> None:
    config = config_with(hermetic_env, "")
    # Eight writers at once on two cores: enough to interleave every read-modify-write (each one is a
    # whole process start of ~0.4 s against an edit of ~1 ms), without costing the suite twenty starts.
    procs = [start("add", "fal", "--label", f"ci-{n}", stdin=fal_key(n) + "\n") for n in range(1, 9)]
    results = [finish(proc) for proc in procs]
    for n, (code, stdout, stderr) in enumerate(results, start=1):
        assert (code, stdout) == (0, ""), stderr
        assert stderr.startswith(f"Added fal key ci-{n} (")
    assert sorted(labels(config)) == sorted(f"ci-{n}" for n in range(1, 9))
    text = config.read_text()
    assert text.startswith(HEAD)
    assert text.endswith(TAIL)
    keys = tomllib.loads(text)["providers"]["fal"]["keys"]
    assert sorted(k["key"] for k in keys) == sorted(fal_key(n) for n in range(1, 9))
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_parallel_removes_remove_exactly_their_keys(hermetic_env: Path) -> None:
    tables = "".join(
        f'\n[[providers.fal.keys]]\nkey = "{fal_key(n)}"\nlabel = "ci-{n}"\n' for n in range(1, 13)
    )
    config = config_with(hermetic_env, tables)
    procs = [start("remove", "fal", f"ci-{n}") for n in range(1, 13, 2)]
    for code, stdout, stderr in (finish(proc) for proc in procs):
        assert (code, stdout) == (0, ""), stderr
        assert stderr.startswith("Removed fal key ci-")
    assert labels(config) == [f"ci-{n}" for n in range(2, 13, 2)]
    kept = "".join(
        f'\n[[providers.fal.keys]]\nkey = "{fal_key(n)}"\nlabel = "ci-{n}"\n' for n in range(2, 13, 2)
    )
    assert config.read_text() == HEAD + kept + TAIL


def test_an_added_table_goes_after_the_last_key_and_before_the_next_sections_comment(
    hermetic_env: Path,
) -> None:
    first = f'\n[[providers.fal.keys]]\nkey = "{fal_key(1)}"  # the laptop key\nlabel = "ci-1"\n'
    config = config_with(hermetic_env, first)
    code, _, stderr = finish(start("add", "fal", stdin=fal_key(2)))
    assert code == 0, stderr
    added = f'\n[[providers.fal.keys]]\nkey = "{fal_key(2)}"\nlabel = "key-1"\n'
    assert config.read_text() == HEAD + first + added + TAIL
    code, _, stderr = finish(start("remove", "fal", "ci-1"))
    assert code == 0, stderr
    assert config.read_text() == HEAD + added + TAIL


def test_a_lock_held_past_timeout_ends_with_exit_7_and_the_file_untouched(hermetic_env: Path) -> None:
    config = config_with(hermetic_env, "")
    before = config.read_bytes()
    lock = hermetic_env / ".config.toml.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
            str(lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        code, stdout, stderr = finish(start("add", "fal", "--timeout", "0.5", stdin=fal_key(1)))
        assert (code, stdout) == (7, "")
        assert stderr.splitlines() == [
            f"Error [config.locked]: Another genctl is editing {config}: it held {lock} before --timeout"
            " ran out.",
            "Fix: Let the other `genctl keys` command finish, then run this one again.",
        ]
        code, _, stderr = finish(start("remove", "fal", "ci-1", "--timeout", "0.5"))
        assert code == 2  # no such key: told before any wait for the lock
    finally:
        holder.communicate(timeout=30)
    assert config.read_bytes() == before


def test_without_timeout_a_stuck_holder_is_waited_for_a_bounded_time(
    hermetic_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_with(hermetic_env, "")
    monkeypatch.setattr(config_edit, "LOCK_WAIT", 0.05)  # the bound, made short (default: 10 s)
    fd = os.open(hermetic_env / ".config.toml.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # flock locks belong to the open file: a second open() is another holder
    try:
        with pytest.raises(Exception) as caught:
            config_edit.add_key(config, "fal", fal_key(1), label=None, account=None)
    finally:
        os.close(fd)
    assert getattr(caught.value, "code", None) == "config.locked"
    assert str(caught.value).endswith("for 0.05 s.")
    added = config_edit.add_key(config, "fal", fal_key(1), label=None, account=None)
    assert added == config_edit.Added(label="key-1")


def test_a_new_file_starts_with_its_table(hermetic_env: Path) -> None:
    config = hermetic_env / "sub" / "config.toml"
    config_edit.add_key(config, "replicate", "r8_" + "a" * 37, label=None, account="acme")
    assert (
        config.read_text()
        == f'[[providers.replicate.keys]]\nkey = "r8_{"a" * 37}"\nlabel = "key-1"\naccount = "acme"\n'
    )
