"""Tables at 80 columns on a colour terminal keep ids and parameter names whole (other columns wrap or are
left out, and the note says which); piped, they are plain tab-separated lines."""

from __future__ import annotations

import json

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK
from tests.conftest import run_in_terminal, run_subprocess

KEYS = {"FAL_KEY": FAL_KEY_OK, "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK}
BOX = set("│┃━─╇")


def test_models_at_80_columns_shows_every_id_whole(sandbox: Sandbox) -> None:
    env = {**sandbox.env(), **KEYS}
    ids = [m["id"] for m in json.loads(run_subprocess("models", "flux", "--json", env=env).stdout)["models"]]

    run = run_in_terminal("models", "flux", env=env)

    assert run.exit_code == 0
    assert all(len(line) <= 80 for line in run.screen)
    first_cells = [line.split("│")[0].strip() for line in run.screen if "│" in line]
    assert first_cells == ids  # each id whole, on one line, in order
    assert run.screen[-1] == "(name, description, price left out to fit 80 columns; --json has everything)"


def test_models_show_at_80_columns_keeps_parameter_names_whole(sandbox: Sandbox) -> None:
    env = {**sandbox.env(), **KEYS}
    document = json.loads(run_subprocess("models", "show", "fal-ai/flux/dev", "--json", env=env).stdout)
    names = [field["name"] for field in document["input"]["fields"]]

    run = run_in_terminal("models", "show", "fal-ai/flux/dev", env=env)

    assert run.exit_code == 0
    assert all(len(line) <= 80 for line in run.screen)
    cells = [line.split("│")[0].strip() for line in run.screen if "│" in line]
    assert [cell for cell in cells if cell] == names
    # Prose wraps at word boundaries, indented under its label.
    assert run.screen[3:5] == [
        "Description: FLUX.1 [dev], a 12 billion parameter flow transformer that",
        "  generates images from text.",
    ]


def test_a_table_whose_ids_cannot_fit_becomes_one_block_per_row(sandbox: Sandbox) -> None:
    run = run_in_terminal("models", "--aliases", env=sandbox.env())

    assert run.exit_code == 0
    assert run.lines[:4] == [
        "flux-schnell",
        "  fal.ai: fal-ai/flux/schnell",
        "  Replicate: black-forest-labs/flux-schnell",
        "  source: built-in",
    ]
    assert not BOX & set("".join(run.lines))


def test_piped_tables_are_tab_separated_without_box_drawing(sandbox: Sandbox) -> None:
    run = run_subprocess("models", "flux", env={**sandbox.env(), **KEYS})

    assert run.exit_code == 0
    assert not BOX & set(run.stdout)
    first = run.stdout.splitlines()[0].split("\t")
    assert first[:3] == ["fal-ai/flux/dev", "fal", "text-to-image"]
    assert all(len(line.split("\t")) == 6 for line in run.stdout.splitlines())
