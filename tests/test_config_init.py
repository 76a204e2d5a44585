"""`genctl config init` writes the shipped, commented example where genctl reads it, never over a file."""

from __future__ import annotations

import json
import stat
from importlib.resources import files
from pathlib import Path

from genctl.config import load_settings

EXAMPLE = files("genctl").joinpath("data", "config.example.toml").read_text(encoding="utf-8")


def test_init_writes_the_example_to_the_config_path_mode_600(genctl, home: Path) -> None:
    target = home / "mine.toml"
    run = genctl("--config", str(target), "config", "init")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == f"{target}\n"
    assert target.read_text(encoding="utf-8") == EXAMPLE
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert load_settings(config_path=target, env={}).warnings == ()  # the example loads cleanly
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".mine")) == [".mine.toml.lock"]


def test_init_never_overwrites_without_force(genctl, home: Path) -> None:
    target = home / "mine.toml"
    target.write_text("# mine\n")
    run = genctl("--config", str(target), "config", "init", "--json")
    assert run.exit_code == 2
    err = json.loads(run.stdout)["error"]
    assert (err["code"], err["message"]) == (
        "usage.invalid",
        f"{target} already exists; genctl config init does not overwrite it.",
    )
    assert target.read_text() == "# mine\n"
    forced = genctl("config", "init", "--path", str(target), "--force", "--json")
    assert json.loads(forced.stdout) == {"ok": True, "config_file": str(target)}
    assert target.read_text(encoding="utf-8") == EXAMPLE
