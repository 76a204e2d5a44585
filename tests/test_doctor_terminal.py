"""What `genctl doctor` draws in a real 80-column colour terminal: one line per passing area, problems with
their fixes, every line wrapped at word boundaries (no id, URL or word cut)."""

from __future__ import annotations

from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from tests.conftest import run_in_terminal

FIX = "Top up at fal.ai/dashboard/billing; a new key of the same account won't help."


def test_doctor_at_80_columns_wraps_at_words_and_keeps_passing_areas_to_one_line(sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": f"{sk.FAL_KEY_OK},{sk.FAL_KEY_LOCKED_BALANCE}"}
    env["REPLICATE_API_TOKEN"] = sk.REPLICATE_TOKEN_OK
    term = run_in_terminal("doctor", "-m", "fal-ai/flux-dev", env=env, columns=80)
    assert term.exit_code == 1
    screen = term.screen
    assert all(len(line) <= 80 for line in screen), screen
    assert "[✓] Environment (4 checks passed)" in screen
    assert "[✓] Connectivity · fal.ai (4 checks passed)" in screen
    assert "[✓] Connectivity · Replicate (1 check passed)" in screen
    assert "[✗] Keys · fal.ai" in screen
    # The locked key's check and its fix, wrapped: each continuation line starts under the text, and
    # joining the lines back gives the words whole.
    start = next(i for i, line in enumerate(screen) if line.startswith("    ✗ [key.locked] env:FAL_KEY#2"))
    block = [screen[start]]
    for line in screen[start + 1 :]:
        if not line.startswith("      "):
            break
        block.append(line)
    fix_at = next(i for i, line in enumerate(block) if line.startswith("      Fix: "))
    fix = " ".join(line.strip() for line in block[fix_at:]).removeprefix("Fix: ")
    assert fix.startswith(FIX)
    assert all(line.startswith("           ") for line in block[fix_at + 1 :])  # under the text after "Fix: "
    assert screen[-2].startswith("doctor found 2 problems in 2 areas (")  # the closing line, wrapped
