"""Seconds in messages read like a person wrote them (issue: "within 2.99838 s")."""

from __future__ import annotations

import pytest

from genctl.timefmt import seconds


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (2.99838, "3 s"),
        (3.0, "3 s"),
        (2.5, "2.5 s"),
        (0.25, "0.25 s"),
        (0.004, "0 s"),
        (45.4, "45 s"),
        (59.6, "60 s"),
        (1e999, "no limit"),
        (0.0, "0 s"),
    ],
)
def test_seconds_are_rounded_for_reading(value: float, shown: str) -> None:
    assert seconds(value) == shown
