"""stdout's JSON is always JSON: a script's `json.loads` never meets `NaN` or `Infinity`."""

from __future__ import annotations

import json
import math

import pytest

from genctl.cli.output import out


def test_non_finite_numbers_are_written_as_null(capsys: pytest.CaptureFixture[str]) -> None:
    out.json({"ok": False, "retry_after": math.inf, "nested": [{"cost": math.nan}, -math.inf, 1.5]})
    line = capsys.readouterr().out
    assert json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")) == {
        "ok": False,
        "retry_after": None,
        "nested": [{"cost": None}, None, 1.5],
    }
