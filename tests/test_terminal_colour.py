"""On a colour terminal at 80 columns, every error, warning and interrupt line keeps its diagnosis code:
Rich must never read `[payload.invalid]` (or any bracket genctl prints) as markup."""

from __future__ import annotations

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_LOCKED_BALANCE, FAL_KEY_OK
from tests.conftest import run_in_terminal

BOLD_RED_ERROR = "\x1b[1;31mError\x1b[0m [payload.invalid]: "
SPINNER = set("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")  # Rich's "dots", the spinner genctl draws


def test_an_error_keeps_its_code_in_colour() -> None:
    run = run_in_terminal("generate", "a fox", "-m", "fal-ai/flux/dev", "-p", "bogus=1", "--sandbox")

    assert run.exit_code == 5
    assert run.colour  # the heading is red: colour is on, and the code still shows
    assert BOLD_RED_ERROR in run.raw
    assert run.lines[1:] == [
        "Error [payload.invalid]: fal-ai/flux/dev would reject this input: unknown parameter bogus",
        "Fix: Nothing was sent. Fix the parameter above; `genctl models show fal-ai/flux/dev` lists every "
        "input. --no-validate sends it unchecked.",
    ]


def test_brackets_in_a_message_print_as_written(sandbox: Sandbox) -> None:
    # A model id with a bracket in it comes back in the message: Rich would swallow "[sandbox:fail]".
    run = run_in_terminal(
        "generate", "x", "-m", "fal-ai/[bold]nope[/bold]", env={**sandbox.env(), "FAL_KEY": FAL_KEY_OK}
    )

    assert run.colour
    assert any("fal-ai/[bold]nope[/bold]" in line for line in run.lines), run.lines


def test_a_warning_keeps_its_code_in_colour(sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": f"{FAL_KEY_OK},{FAL_KEY_LOCKED_BALANCE}"}

    run = run_in_terminal("keys", "status", "--check", "--provider", "fal", env=env, columns=200)

    assert run.colour
    warnings = [line for line in run.lines if line.startswith("Warning")]
    assert warnings and all(line.startswith("Warning [key.locked]: ") for line in warnings), run.lines
    assert "\x1b[33mWarning\x1b[0m [key.locked]: " in run.raw


def test_an_interrupt_keeps_its_code_in_colour() -> None:
    run = run_in_terminal(
        "generate", "a fox [sandbox:hang]", "-m", "fal-ai/flux/dev", "--sandbox", interrupt_when="Running"
    )

    assert run.exit_code == 130
    assert run.colour
    error = [line for line in run.lines if line.startswith("Error")]
    assert len(error) == 1 and error[0].startswith("Error [interrupted]: Interrupted"), run.lines


def test_log_lines_and_ctrl_c_leave_no_spinner_frame_behind() -> None:
    """What stays on the screen after model logs and a Ctrl-C: the logs in order, then the error, and not
    one spinner frame between them or above the error."""
    run = run_in_terminal(
        "generate",
        "a fox [sandbox:progress=4] [sandbox:hang]",
        "-m",
        "fal-ai/flux/dev",
        "--sandbox",
        interrupt_when="step 3/4",
    )

    assert run.exit_code == 130
    first, *logs, error, request, fix = run.lines
    assert first.startswith("Sandbox running at http://127.0.0.1:")
    assert logs == [f"  step {n}/4" for n in range(1, len(logs) + 1)] and len(logs) >= 3
    rid = request.removeprefix("Request id: ")
    assert error == f"Error [interrupted]: Interrupted; the remote job was cancelled (request {rid})."
    assert fix == "Fix: Run the command again to start a new generation."
    assert not SPINNER & set("".join(run.screen))
    assert not [line for line in run.screen if "Running" in line]  # the status line went with it
