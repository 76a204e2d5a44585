"""The config example ships inside the package (genctl/data/), byte-equal to the top-level one users read."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_example_is_byte_equal_to_the_top_level_one() -> None:
    shipped = files("genctl").joinpath("data", "config.example.toml").read_bytes()
    assert shipped == (ROOT / "config.example.toml").read_bytes()
    assert b"[defaults]" in shipped
