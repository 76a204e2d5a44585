"""`genctl help exit-codes` prints the same table as the README, from the same source (genctl.errors)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from genctl.errors import CODES, EXIT_MEANINGS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_exit_table_is_the_code_table() -> None:
    table = README.split("## Exit codes", 1)[1].split("##", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.*?) \|(.*?)\|$", table, flags=re.M)
    assert [(int(code), meaning) for code, meaning, _ in rows] == list(EXIT_MEANINGS.items())
    for code, _, codes in rows:
        assert sorted(re.findall(r"`([a-z._]+)`", codes)) == sorted(
            name for name, (exit_code, _) in CODES.items() if exit_code == int(code)
        )


def test_help_exit_codes_prints_one_line_per_exit_code_off_a_terminal(genctl) -> None:
    run = genctl("help", "exit-codes")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert lines[0] == "0\tsuccess\t"
    assert (
        "3\tcredentials\tkey.missing, key.format, key.invalid, key.locked, key.scope, billing.required"
        in lines
    )
    assert lines[-1] == "130\tinterrupted (Ctrl-C); the remote job was cancelled\tinterrupted"
    assert len(lines) == len(EXIT_MEANINGS)
    assert "143: SIGTERM" in run.stderr


def test_help_exit_codes_json_is_data(genctl) -> None:
    run = genctl("help", "exit-codes", "--json")
    document = json.loads(run.stdout)
    assert document["ok"] is True
    assert {row["exit"]: row["codes"] for row in document["exit_codes"]}[6] == ["rate.limited"]
    assert document["codes"]["model.not_found"] == {"exit": 4, "meaning": CODES["model.not_found"][1]}
    assert document["warnings"] == {"config.permissions": document["warnings"]["config.permissions"]}
