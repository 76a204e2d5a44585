"""The README's sandbox section documents what the emulator understands, no more and no less: every prompt
switch of genctl/sandbox/directives.py, every special key of keys.py, every setting of /_sandbox/configure."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

from genctl.sandbox import SandboxConfig, directives
from genctl.sandbox import keys as sandbox_keys

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## The sandbox", 1)[1].split("\n## ", 1)[0]
# What each placeholder of the switch table stands for when the switch is tried.
PLACEHOLDERS = {"BYTES": "2048", "SECONDS": "0.5", "N": "3", "TYPE": "startup_timeout"}


def _documented_switches() -> dict[str, str]:
    """`[sandbox:NAME]` / `[sandbox:NAME=PLACEHOLDER]` rows of the table: name -> the switch as written."""
    rows = re.findall(r"^\| `(\[sandbox:([a-z_]+)(?:=[A-Z]+)?\])` \|", SECTION, flags=re.M)
    return {name: written for written, name in rows}


def test_every_switch_directives_understands_is_documented() -> None:
    documented = _documented_switches()
    assert set(documented) == {f.name for f in dataclasses.fields(directives.Directives)}


def test_each_documented_switch_does_what_its_row_says() -> None:
    default = directives.Directives()
    for name, written in _documented_switches().items():
        switch = re.sub(r"=([A-Z]+)\]", lambda m: f"={PLACEHOLDERS[m.group(1)]}]", written)
        parsed = directives.parse({"prompt": f"a fox {switch}"})
        assert getattr(parsed, name) != getattr(default, name), switch


def test_the_special_keys_are_listed() -> None:
    special = {
        value
        for name, value in vars(sandbox_keys).items()
        if re.fullmatch(r"(FAL_KEY|REPLICATE_TOKEN)_[A-Z_0-9]+", name) and isinstance(value, str)
    }
    listed = set(re.findall(r"^\| (?:fal|replicate) \| `([^`]+)` \|", SECTION, flags=re.M))
    assert listed == special


def test_the_configure_settings_and_key_states_are_listed() -> None:
    [configure] = [line for line in SECTION.splitlines() if line.startswith("| `GET /_sandbox/configure`")]
    names = set(re.findall(r"`([a-z_]+)`", configure))
    assert names == {f.name for f in dataclasses.fields(SandboxConfig)}
    [keys_row] = [line for line in SECTION.splitlines() if line.startswith("| `POST /_sandbox/keys`")]
    states = set(re.findall(r"`([a-z_]+)`", keys_row.split("`state`", 1)[1]))
    assert states == set(typing.get_args(sandbox_keys.KeyState))
