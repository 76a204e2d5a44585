"""Click's own usage errors (unknown option, bad value, missing argument, unknown command) speak genctl's
format: `Error [usage.invalid]: …` / `Fix: …`, exit 2, a did-you-mean, and the JSON object with --json."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_in_terminal, run_subprocess


def _error(stdout: str) -> dict[str, object]:
    document = json.loads(stdout)
    assert document["ok"] is False
    error = document["error"]
    assert isinstance(error, dict)
    return error


def test_an_unknown_option_gets_a_did_you_mean(genctl) -> None:
    run = genctl("generate", "a fox", "--jsn")

    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "Error [usage.invalid]: No such option: --jsn.",
        "Fix: Did you mean --json? `genctl generate -h` lists every option.",
    ]


def test_an_unknown_option_with_json_prints_the_error_object(genctl) -> None:
    run = genctl("generate", "a fox", "--bogus", "--json")

    assert run.exit_code == 2
    assert _error(run.stdout) == {
        "code": "usage.invalid",
        "message": "No such option: --bogus.",
        "fix": "`genctl generate -h` lists every option.",
        "provider": None,
        "http_status": None,
    }
    assert run.stderr.splitlines()[0] == "Error [usage.invalid]: No such option: --bogus."


def test_a_bad_value_names_the_option_in_words(genctl) -> None:
    run = genctl("generate", "a fox", "--timeout", "abc", "--json")

    assert run.exit_code == 2
    error = _error(run.stdout)
    assert error["message"] == "Invalid value for '--timeout': 'abc' is not a number."
    assert (
        error["fix"]
        == "Usage: genctl generate [OPTIONS] [PROMPT]; `genctl generate -h` explains each option."
    )


def test_a_value_out_of_range_says_the_bound(genctl) -> None:
    run = genctl("generate", "a fox", "--concurrency", "0", "--batch", "x.txt")

    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == (
        "Error [usage.invalid]: Invalid value for '--concurrency': it must be at least 1, not 0."
    )


def test_an_option_without_its_value_names_the_command(genctl) -> None:
    run = genctl("generate", "a fox", "-m")

    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        "Error [usage.invalid]: Option '-m' requires an argument.",
        "Fix: Usage: genctl generate [OPTIONS] [PROMPT]; `genctl generate -h` explains each option.",
    ]


def test_a_missing_argument(genctl) -> None:
    run = genctl("models", "show", "--json")

    assert run.exit_code == 2
    assert _error(run.stdout)["message"] == "Missing argument 'MODEL'."


def test_an_unknown_command_gets_a_did_you_mean(genctl) -> None:
    run = genctl("modles")

    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        "Error [usage.invalid]: No such command 'modles'.",
        "Fix: Did you mean `genctl models`? `genctl -h` lists every command.",
    ]


def test_an_unknown_root_option() -> None:
    run = run_subprocess("--bogus", "models")

    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        "Error [usage.invalid]: No such option: --bogus.",
        "Fix: `genctl -h` lists every option.",
    ]


def test_json_after_a_double_dash_is_an_argument_not_the_flag(genctl) -> None:
    run = genctl("generate", "--bogus", "--", "--json")

    assert run.exit_code == 2
    assert run.stdout == ""


@pytest.mark.parametrize("args", [("generate", "x", "--jsn"), ("modles",)])
def test_a_usage_error_keeps_its_code_on_a_colour_terminal(args: tuple[str, ...]) -> None:
    run = run_in_terminal(*args)

    assert run.exit_code == 2
    assert run.colour
    assert run.lines[0].startswith("Error [usage.invalid]: No such ")
    assert run.lines[1].startswith("Fix: Did you mean ")
