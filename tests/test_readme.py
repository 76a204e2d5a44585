"""The README's contract tables stay true: every diagnosis code with its exit code, and the set-up."""

from __future__ import annotations

import re
from pathlib import Path

from genctl.errors import CODES, WARNINGS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_diagnosis_code_is_documented_with_its_exit_code() -> None:
    rows = dict(re.findall(r"^\| `([a-z]+\.[a-z_]+|interrupted)` \| (\d+) \|", README, flags=re.M))
    assert rows == {code: str(exit_code) for code, (exit_code, _) in CODES.items()}


def test_codes_that_only_warn_have_no_exit_code_in_either_table() -> None:
    rows = dict(re.findall(r"^\| `([a-z]+\.[a-z_]+)` \| — \| (.*) \|$", README, flags=re.M))
    assert rows == WARNINGS
    exits = README.split("## Exit codes", 1)[1].split("##", 1)[0]
    assert not any(f"`{code}`" in exits for code in WARNINGS)


def test_exit_code_table_names_each_code_under_its_exit_code() -> None:
    table = README.split("## Exit codes", 1)[1].split("##", 1)[0]
    for code, (exit_code, _) in CODES.items():
        [row] = [line for line in table.splitlines() if f"`{code}`" in line]
        assert row.startswith(f"| {exit_code} |"), row


def test_set_up_is_the_two_commands() -> None:
    setup = README.split("## Set-up", 1)[1].split("##", 1)[0]
    assert 'uv run genctl generate --sandbox "' in setup
    assert "uv run pytest" in setup
