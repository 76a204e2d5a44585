"""What a generation costs (issue #15): the Cost value, fal's billed units x price, Replicate's table
prices from the config, and the budget that refuses to submit (exit 8, nothing sent)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genctl.config import load_settings
from genctl.cost import Cost, money_text, priced, total, unknown
from genctl.errors import GenctlError
from genctl.providers.base import Result
from genctl.providers.prices import actual, expected_units, replicate_cost
from genctl.sandbox import Fault, Sandbox
from tests.support import fal_env, replicate_env

DEV = ("-m", "fal-ai/flux/dev")  # sandbox: $0.025 per image
SCHNELL = ("-m", "fal-ai/flux/schnell")  # sandbox: $0.003 per megapixel
REP = ("-m", "black-forest-labs/flux-schnell")
RESULT_GET = {"provider": "fal.queue", "method": "GET", "path": r"/requests/[^/]+$"}


def config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "genctl.toml"
    path.write_text(text)
    return {"GENCTL_CONFIG": str(path)}


# --- the value --------------------------------------------------------------------------------------------


def test_a_billed_cost_has_the_documented_json_and_text() -> None:
    cost = priced("billed", price=0.025, units=2, unit="image")
    assert cost.to_json() == {
        "amount": 0.05,
        "currency": "USD",
        "unit": "image",
        "units": 2.0,
        "basis": "billed",
    }
    assert cost.text() == "$0.05 · 2 images"
    assert priced("billed", price=0.003, units=1, unit="megapixels").text() == "$0.003 · 1 megapixel"
    assert priced("estimate", price=0.025, units=1, unit="image").text() == "~$0.025 · 1 image (estimate)"


def test_an_unknown_cost_has_no_amount_and_says_why() -> None:
    cost = unknown("no price")
    assert cost.to_json() == {
        "amount": None,
        "currency": "USD",
        "unit": None,
        "units": None,
        "basis": "unknown",
        "reason": "no price",
    }
    assert cost.text() == "cost unknown (no price)"


@pytest.mark.parametrize("price", [math.inf, -math.inf, math.nan, -0.01])
def test_a_price_that_is_not_a_finite_amount_is_unknown_not_a_number(price: float) -> None:
    cost = priced("billed", price=price, units=1, unit="image")
    assert cost.basis == "unknown" and cost.amount is None
    json.dumps(cost.to_json(), allow_nan=False)


@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_any_finite_price_and_units_give_a_finite_rounded_amount_that_reads_back(
    price: float, units: float
) -> None:
    cost = priced("estimate", price=price, units=units, unit="second")
    assert cost.amount is not None and math.isfinite(cost.amount)
    assert cost.amount == round(cost.amount, 6)
    assert Cost.from_json(json.loads(json.dumps(cost.to_json(), allow_nan=False))) == cost


def test_money_is_shown_without_float_noise() -> None:
    assert [money_text(a) for a in (0.1 + 0.2, 0.0, 1.5, 0.00004)] == ["$0.3", "$0", "$1.5", "$0.00004"]
    costs = [priced("billed", price=0.1, units=1, unit="call")] * 3 + [unknown("x")]
    assert total(costs) == (0.3, 1)


def test_units_before_the_run_are_counted_only_from_inputs_that_say_them() -> None:
    assert expected_units("image", {"num_images": 3}) == 3
    assert expected_units("second", {"duration": "8s"}) == 8
    assert expected_units("megapixels", {"image_size": {"width": 1024, "height": 768}, "num_images": 2}) == 2
    assert expected_units("megapixels", {"image_size": "landscape_4_3"}) is None  # a preset: not guessed
    assert expected_units("image", {"num_images": 1.5}) is None
    assert expected_units("compute seconds", {}) is None


def test_a_replicate_run_by_a_per_second_price_is_an_estimate_from_predict_time() -> None:
    from genctl.cost import PriceEntry

    price = PriceEntry(amount=0.001, unit="second")
    cost = replicate_cost(price, "owner/model", {"metrics": {"predict_time": 2.5}}, 1)
    assert cost.to_json() == {
        "amount": 0.0025,
        "currency": "USD",
        "unit": "second",
        "units": 2.5,
        "basis": "estimate",
    }
    assert replicate_cost(price, "owner/model", {"metrics": {}}, 1).reason == (
        "the prediction reports no metrics.predict_time"
    )


def test_a_fal_result_without_units_falls_back_to_the_estimate_and_says_nothing_was_billed() -> None:
    from genctl.cost import PriceEntry

    mp = PriceEntry(amount=0.003, unit="megapixels")
    cost = actual(mp, "fal-ai/flux/schnell", {}, "fal", Result(outputs=()))
    assert cost.reason == (
        "fal.ai sent no billable units; priced per megapixels: the units are known only after the run"
    )


# --- generate, end to end ---------------------------------------------------------------------------------


def test_fal_generate_json_carries_the_billed_cost(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *DEV, "--json", "-p", "num_images=2", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["cost"] == {
        "amount": 0.05,
        "currency": "USD",
        "unit": "image",
        "units": 2.0,
        "basis": "billed",
    }


def test_fal_generate_prints_the_cost_on_stderr_and_only_paths_on_stdout(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *SCHNELL, env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert [Path(line).suffix for line in run.lines] == [".png"]
    assert run.stderr.splitlines()[-1] == "$0.003 · 1 megapixel"


def test_a_result_without_the_units_header_is_an_estimate_when_the_inputs_tell(
    genctl, sandbox: Sandbox
) -> None:
    sandbox.inject(Fault.no_units(**RESULT_GET))
    run = genctl("generate", "a fox", *DEV, "--json", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["cost"] == {
        "amount": 0.025,
        "currency": "USD",
        "unit": "image",
        "units": 1.0,
        "basis": "estimate",
    }


def test_a_result_without_the_units_header_is_unknown_when_nothing_tells(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.no_units(**RESULT_GET))
    run = genctl("generate", "a fox", *SCHNELL, env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines()[-1] == (
        "cost unknown (fal.ai sent no billable units; priced per megapixels: the units are known only"
        " after the run)"
    )


def test_a_replicate_model_without_a_price_is_unknown_never_guessed(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *REP, "--json", env=replicate_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["cost"] == {
        "amount": None,
        "currency": "USD",
        "unit": None,
        "units": None,
        "basis": "unknown",
        "reason": "Replicate has no price API and the config has no"
        ' [prices."black-forest-labs/flux-schnell"]',
    }


def test_a_config_price_makes_replicate_an_estimate(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    env = config(
        tmp_path,
        '[prices."black-forest-labs/flux-schnell"]\namount = 0.003\nunit = "image"\n'
        'source = "https://replicate.com/black-forest-labs/flux-schnell"\nas_of = "2026-12-02"\n',
    )
    run = genctl("generate", "a fox", *REP, "--json", env={**replicate_env(sandbox), **env})
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["cost"] == {
        "amount": 0.003,
        "currency": "USD",
        "unit": "image",
        "units": 1.0,
        "basis": "estimate",
    }


def test_a_config_price_per_second_is_priced_by_the_predictions_predict_time(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    env = config(tmp_path, '[prices."black-forest-labs/flux-schnell"]\namount = 0.5\nunit = "second"\n')
    run = genctl("generate", "a fox", *REP, "--json", env={**replicate_env(sandbox), **env})
    assert run.exit_code == 0, run.stderr
    cost = json.loads(run.stdout)["cost"]
    assert (cost["basis"], cost["unit"]) == ("estimate", "second")
    assert cost["units"] >= 0 and cost["amount"] == round(cost["units"] * 0.5, 6)


# --- the budget -------------------------------------------------------------------------------------------


def test_max_cost_under_the_estimate_refuses_and_sends_nothing(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *DEV, "-p", "num_images=2", "--max-cost", "0.04", env=fal_env(sandbox))
    assert run.exit_code == 8
    assert run.stdout == ""
    assert run.stderr.splitlines()[-2:] == [
        "Error [budget.exceeded]: fal-ai/flux/dev would cost ~$0.05 · 2 images (estimate), over the budget"
        " of $0.04; nothing was sent.",
        "Fix: Raise --max-cost (or [defaults] max_cost), or ask for less (fewer images, shorter video).",
    ]
    assert sandbox.count(method="POST", host="fal.queue") == 0


def test_max_cost_at_the_estimate_submits(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *DEV, "-p", "num_images=2", "--max-cost", "0.05", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert sandbox.count(method="POST", host="fal.queue") == 1


def test_the_config_max_cost_refuses_too_with_a_json_error(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    env = config(tmp_path, "[defaults]\nmax_cost = 0.01\n")
    run = genctl("generate", "a fox", *DEV, "--json", env={**fal_env(sandbox), **env})
    assert run.exit_code == 8
    doc = json.loads(run.stdout)
    assert doc["ok"] is False and doc["error"]["code"] == "budget.exceeded"
    assert doc["error"]["details"]["max_cost"] == 0.01
    assert doc["error"]["details"]["cost"]["amount"] == 0.025
    assert sandbox.count(method="POST", host="fal.queue") == 0


def test_an_unknown_price_with_a_budget_refuses_and_says_how_to_price_it(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *REP, "--max-cost", "1", env=replicate_env(sandbox))
    assert run.exit_code == 8
    assert run.stderr.splitlines()[-2:] == [
        "Error [budget.unknown]: The cost of black-forest-labs/flux-schnell is unknown (Replicate has no"
        ' price API and the config has no [prices."black-forest-labs/flux-schnell"]), with a budget of $1;'
        " nothing was sent.",
        'Fix: Add [prices."black-forest-labs/flux-schnell"] with amount and unit to the config (see README),'
        " or drop --max-cost.",
    ]
    assert sandbox.count(method="POST", host="replicate") == 0


def test_units_that_cannot_be_counted_with_a_budget_say_which_inputs_would(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *SCHNELL, "--max-cost", "1", env=fal_env(sandbox))
    assert run.exit_code == 8
    assert run.stderr.splitlines()[-1] == (
        "Fix: Give the inputs the price counts (-p num_images=N, -p duration=S, or image_size as JSON with"
        " width and height), or drop --max-cost."
    )
    ok = genctl(
        "generate",
        "a fox",
        *SCHNELL,
        "-p",
        'image_size:={"width": 1024, "height": 1024}',
        "--max-cost",
        "1",
        env=fal_env(sandbox),
    )
    assert ok.exit_code == 0, ok.stderr


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_max_cost_that_is_not_an_amount_is_a_usage_error(genctl, sandbox: Sandbox, value: str) -> None:
    run = genctl("generate", "a fox", *DEV, "--max-cost", value, env=fal_env(sandbox))
    assert run.exit_code == 2
    assert run.stderr.splitlines()[-2:] == [
        f"Error [usage.invalid]: --max-cost must be an amount in USD, 0 or more, not {float(value):g}",
        "Fix: Pass e.g. --max-cost 0.50.",
    ]
    assert sandbox.count(method="POST") == 0


def test_dry_run_prints_the_estimate_on_stderr(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    env = config(tmp_path, '[prices."fal-ai/flux/dev"]\namount = 0.025\nunit = "image"\n')
    run = genctl("generate", "a fox", *DEV, "--dry-run", env={**fal_env(sandbox), **env})
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith("curl ")
    assert "Estimated cost: ~$0.025 · 1 image (estimate)" in run.stderr.splitlines()
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[prices."a/b"]\nunit = "image"\n', '[prices."a/b"] amount in {path} must be a number, 0 or more'),
        ('[prices."a/b"]\namount = 1\n', '[prices."a/b"] unit in {path} must be a non-empty string'),
        (
            '[prices."a/b"]\namount = 1\nunit = "image"\ncost = 2\n',
            "[prices.\"a/b\"] in {path} has unknown field 'cost'",
        ),
        ('[prices]\n"a/b" = 1\n', '[prices."a/b"] in {path} must be a table'),
    ],
)
def test_a_wrong_prices_table_is_a_config_error(tmp_path: Path, table: str, message: str) -> None:
    env = config(tmp_path, table)
    with pytest.raises(GenctlError) as caught:
        load_settings(env=env)
    assert caught.value.code == "config.invalid"
    assert caught.value.message == message.format(path=env["GENCTL_CONFIG"])


def test_the_env_budget_refuses_a_dry_run_over_it_too(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    env = config(tmp_path, '[prices."fal-ai/flux/dev"]\namount = 0.025\nunit = "image"\n')
    run = genctl(
        "generate", "a fox", *DEV, "-p", "num_images=3", "--dry-run",
        env={**fal_env(sandbox), **env, "GENCTL_MAX_COST": "0.05"},
    )  # fmt: skip
    assert run.exit_code == 8
    assert run.stdout == ""
    assert run.stderr.splitlines()[-3:] == [
        "Estimated cost: ~$0.075 · 3 images (estimate)",
        "Error [budget.exceeded]: fal-ai/flux/dev would cost ~$0.075 · 3 images (estimate), over the budget"
        " of $0.05; nothing was sent.",
        "Fix: Raise --max-cost (or [defaults] max_cost), or ask for less (fewer images, shorter video).",
    ]
    assert sandbox.requests == []


def test_a_wrong_env_budget_is_a_config_error(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *DEV, env={**fal_env(sandbox), "GENCTL_MAX_COST": "lots"})
    assert run.exit_code == 2
    assert run.stderr.splitlines()[-2:] == [
        "Error [config.invalid]: GENCTL_MAX_COST must be an amount in USD, 0 or more, not 'lots'",
        "Fix: Set GENCTL_MAX_COST to e.g. 0.50.",
    ]
    assert sandbox.requests == []
