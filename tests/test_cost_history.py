"""What jobs cost, as history keeps it (issue #15): the cost stored per job, the cost column and totals of
`genctl history` (--since, by provider and model, --json), and a schema-1 database that keeps its rows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from genctl.errors import GenctlError
from genctl.history import History
from genctl.history import db as history_db
from genctl.sandbox import Sandbox
from genctl.spend import since
from tests.support import fal_env, replicate_env

DEV = ("-m", "fal-ai/flux/dev")  # sandbox: $0.025 per image
REP = ("-m", "black-forest-labs/flux-schnell")  # no price: unknown


def run_three(genctl, sandbox: Sandbox) -> dict[str, str]:
    env = {**fal_env(sandbox), **replicate_env(sandbox)}
    assert genctl("generate", "one", *DEV, "-o", "out", env=env).exit_code == 0
    assert genctl("generate", "two", *DEV, "-p", "num_images=2", "-o", "out", env=env).exit_code == 0
    assert genctl("generate", "three", *REP, "-o", "out", env=env).exit_code == 0
    return env


def test_history_json_has_each_jobs_cost_and_the_totals_by_model(genctl, sandbox: Sandbox) -> None:
    run_three(genctl, sandbox)
    doc = json.loads(genctl("history", "--json").stdout)
    assert [j["cost"]["amount"] for j in doc["jobs"]] == [None, 0.05, 0.025]
    assert [j["cost"]["basis"] for j in doc["jobs"]] == ["unknown", "billed", "billed"]
    assert doc["cost"] == {
        "jobs": 3,
        "amount": 0.075,
        "currency": "USD",
        "estimates": 0,
        "unknown": 1,
        "by_model": [
            {
                "provider": "fal",
                "model": "fal-ai/flux/dev",
                "jobs": 2,
                "amount": 0.075,
                "currency": "USD",
                "estimates": 0,
                "unknown": 0,
            },
            {
                "provider": "replicate",
                "model": "black-forest-labs/flux-schnell",
                "jobs": 1,
                "amount": 0.0,
                "currency": "USD",
                "estimates": 0,
                "unknown": 1,
            },
        ],
    }


def test_history_table_shows_the_cost_column_and_a_totals_table(genctl, sandbox: Sandbox) -> None:
    run_three(genctl, sandbox)
    lines = [line.split("\t") for line in genctl("history").stdout.splitlines()]
    jobs, totals = lines[:3], lines[3:]
    assert [line[7] for line in jobs] == ["?", "$0.05", "$0.025"]
    assert totals == [
        ["cost", "fal", "fal-ai/flux/dev", "2", "$0.075"],
        ["cost", "replicate", "black-forest-labs/flux-schnell", "1", "$0 (1 unknown)"],
        ["cost", "total", "", "3", "$0.075 (1 unknown)"],
    ]


def test_history_since_keeps_only_newer_jobs(genctl, sandbox: Sandbox) -> None:
    run_three(genctl, sandbox)
    assert json.loads(genctl("history", "--json", "--since", "1h").stdout)["count"] == 3
    assert json.loads(genctl("history", "--json", "--since", "2999-01-01").stdout)["cost"]["jobs"] == 0
    bad = genctl("history", "--since", "yesterday")
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[-2:] == [
        "Error [usage.invalid]: --since 'yesterday' is not a duration or a date.",
        "Fix: Use e.g. --since 24h, 7d or 2026-12-01.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", 1_000_000 - 86400),
        ("30m", 1_000_000 - 1800),
        ("2w", 1_000_000 - 14 * 86400),
        ("1970-01-02", 86400),
    ],
)
def test_since_reads_durations_and_dates(text: str, expected: float) -> None:
    assert since(text, 1_000_000.0) == expected


def test_since_rejects_what_is_neither() -> None:
    with pytest.raises(GenctlError) as caught:
        since("-3d", 0.0)
    assert caught.value.code == "usage.invalid"


V1_SCHEMA = history_db._SCHEMA.replace("    cost_detail TEXT,\n", "")


def test_a_schema_1_database_keeps_its_rows_and_gains_the_cost_column(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.execute(
        "INSERT INTO jobs (provider, model, request_id, status, submitted_at, updated_at) "
        "VALUES ('fal', 'fal-ai/flux/dev', 'old-1', 'succeeded', 1.0, 1.0)"
    )
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    history = History(path)
    [old] = history.recent()
    assert (old.request_id, old.cost, old.cost_detail) == ("old-1", None, None)
    assert old.to_json()["cost"] is None
    detail = {"amount": 0.025, "currency": "USD", "unit": "image", "units": 1.0, "basis": "billed"}
    history.update("fal", "old-1", cost=0.025, cost_detail=detail)
    [again] = History(path).recent()
    assert (again.cost, again.cost_detail) == (0.025, detail)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == history_db.SCHEMA_VERSION == 3


def test_no_wait_records_the_estimate_and_result_replaces_it_with_the_billed_cost(
    genctl, sandbox: Sandbox
) -> None:
    env = fal_env(sandbox)
    submitted = json.loads(genctl("generate", "a fox", *DEV, "--no-wait", "--json", env=env).stdout)
    assert submitted["cost"] == {
        "amount": 0.025,
        "currency": "USD",
        "unit": "image",
        "units": 1.0,
        "basis": "estimate",
    }
    run = genctl("result", submitted["request_id"], "--wait", "--json", "-o", "out", env=env)
    assert run.exit_code == 0, run.stderr
    billed = {"amount": 0.025, "currency": "USD", "unit": "image", "units": 1.0, "basis": "billed"}
    assert json.loads(run.stdout)["cost"] == billed
    [row] = History().recent()
    assert (row.cost, row.cost_detail) == (0.025, billed)
