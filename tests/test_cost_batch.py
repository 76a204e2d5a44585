"""A batch's budget (issue #15): the total estimate is checked before anything is sent, and the items that
would cross the budget while it runs are not submitted, reported, and run later with --resume."""

from __future__ import annotations

import json
from pathlib import Path

from genctl.cost import Budget, priced, unknown
from genctl.sandbox import Sandbox
from tests.support import fal_env, replicate_env

DEV = ("-m", "fal-ai/flux/dev")  # sandbox: $0.025 per image
BIG = 'image_size:={"width": 2048, "height": 2048}'  # the sandbox bills 5 megapixels for it


def batch_file(tmp_path: Path, lines: int) -> str:
    path = tmp_path / "prompts.txt"
    path.write_text("".join(f"prompt {n}\n" for n in range(1, lines + 1)))
    return str(path)


def test_a_batch_over_budget_up_front_sends_nothing(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    run = genctl(
        "generate", "--batch", batch_file(tmp_path, 3), *DEV, "--max-cost", "0.07", "-o", "out",
        env=fal_env(sandbox),
    )  # fmt: skip
    assert run.exit_code == 8
    assert run.stdout == ""
    assert run.stderr.splitlines()[-2:] == [
        "Error [budget.exceeded]: The batch would cost ~$0.075 (3 items, estimated), over the budget of"
        " $0.07; nothing was sent.",
        "Fix: Raise --max-cost (or [defaults] max_cost), or run fewer items.",
    ]
    assert sandbox.count(method="POST", host="fal.queue") == 0


def test_a_batch_within_budget_runs_every_item_with_its_cost_line(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    run = genctl(
        "generate", "--batch", batch_file(tmp_path, 3), *DEV, "--max-cost", "0.075", "-o", "out", "--json",
        env=fal_env(sandbox),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    costs = [json.loads(line)["cost"] for line in run.lines]
    assert (
        costs == [{"amount": 0.025, "currency": "USD", "unit": "image", "units": 1.0, "basis": "billed"}] * 3
    )


def test_a_batch_with_an_unknown_price_and_a_budget_sends_nothing(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    run = genctl(
        "generate", "--batch", batch_file(tmp_path, 2), "-m", "black-forest-labs/flux-schnell",
        "--max-cost", "5", "--json", env=replicate_env(sandbox),
    )  # fmt: skip
    assert run.exit_code == 8
    err = json.loads(run.stdout)["error"]
    assert err["code"] == "budget.unknown"
    assert err["message"] == (
        "The cost of 2 of the batch's items is unknown (Replicate has no price API and the config has no"
        ' [prices."black-forest-labs/flux-schnell"]), with a budget of $5; nothing was sent.'
    )
    assert sandbox.count(method="POST", host="replicate") == 0


def test_items_that_would_cross_the_budget_are_not_sent_and_resume_runs_them(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    # A config price per image for a model billed per megapixel: each item is estimated at $0.01 and
    # billed 5 x $0.01, so the first item spends what the estimate said three would.
    config = tmp_path / "genctl.toml"
    config.write_text('[prices."fal-ai/flux/schnell"]\namount = 0.01\nunit = "image"\n')
    env = {**fal_env(sandbox), "GENCTL_CONFIG": str(config)}
    args = ("--batch", batch_file(tmp_path, 3), "-m", "fal-ai/flux/schnell", "-p", BIG, "--concurrency", "1")
    run = genctl("generate", *args, "--max-cost", "0.055", "-o", "out", "--json", env=env)
    assert run.exit_code == 1
    lines = [json.loads(line) for line in run.lines]
    assert [line.get("ok") for line in lines] == [True, False, False, False]
    assert lines[0]["cost"]["amount"] == 0.05
    assert [line["error"]["code"] for line in lines[1:3]] == ["budget.exceeded"] * 2
    assert lines[1]["error"]["message"] == (
        "fal-ai/flux/schnell would cost ~$0.01 · 1 image (estimate) on top of $0.05 spent, over the budget of"
        " $0.055; nothing was sent."
    )
    assert lines[1]["error"]["fix"] == (
        "Run the batch again with --resume and a higher --max-cost: the items that succeeded are skipped."
    )
    assert lines[3]["error"]["message"] == "1 succeeded, 2 failed: budget.exceeded ×2"
    assert sandbox.count(method="POST", host="fal.queue") == 1
    again = genctl("generate", *args, "--max-cost", "0.2", "-o", "out", "--resume", "--json", env=env)
    assert again.exit_code == 0, again.stderr
    assert [json.loads(line).get("skipped", False) for line in again.lines] == [True, False, False]
    assert sandbox.count(method="POST", host="fal.queue") == 3


def test_a_budget_reserves_estimates_and_settles_them_with_what_was_spent() -> None:
    budget = Budget(0.1)
    estimate = priced("estimate", price=0.04, units=1, unit="image")
    assert budget.reserve(estimate) is None and budget.reserve(estimate) is None
    assert budget.reserve(estimate) == 0.08  # a third would cross: nothing taken
    budget.settle(estimate, priced("billed", price=0.01, units=1, unit="image"))
    assert budget.committed == 0.05
    budget.settle(estimate, unknown("no units"))  # an unknown cost keeps its estimate
    assert budget.committed == 0.05
    assert budget.reserve(estimate) is None and budget.committed == 0.09
