"""What `genctl doctor` shows a person and a script: on a colour terminal at 80 columns, one line per passing
area (like `flutter doctor`), every check of an area with a problem, lines wrapped at word boundaries with ids
and URLs whole; piped, the same lines unwrapped; --json the same checks whatever the layout; --offline
checks said to be skipped, with no failure code, and never failing the run."""

from __future__ import annotations

import io
import json
import re
import sys
from typing import Any

import pytest

from genctl.cli.output import out
from genctl.diagnose import Finding
from genctl.doctor import DoctorReport
from genctl.doctor.probes import Check
from genctl.doctor.report import text_rows
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from tests.conftest import run_in_terminal, run_subprocess

TIMING = re.compile(r" in \d+\.\d s: ")


def healthy(box: Sandbox) -> dict[str, str]:
    return {**box.env(), "FAL_KEY": sk.FAL_KEY_ADMIN, "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}


def broken(box: Sandbox) -> dict[str, str]:
    """One good fal key, one locked, no Replicate token."""
    return {**box.env(), "FAL_KEY": f"{sk.FAL_KEY_OK},{sk.FAL_KEY_LOCKED_BALANCE}", "REPLICATE_API_TOKEN": ""}


def untimed(line: str) -> str:
    return TIMING.sub(" in T s: ", line)


def test_a_healthy_setup_is_one_line_per_area(sandbox: Sandbox) -> None:
    run = run_in_terminal("doctor", env=healthy(sandbox))

    assert run.exit_code == 0
    assert run.colour  # the spinner drew in colour; it left nothing behind
    assert [untimed(line) for line in run.screen] == [
        "[✓] Environment (4 checks passed)",
        "[✓] Connectivity · fal.ai (4 checks passed)",
        "[✓] Connectivity · Replicate (1 check passed)",
        "[✓] Keys · fal.ai (1 check passed)",
        "[✓] Keys · Replicate (1 passed, 1 skipped)",
        "[✓] Models · fal.ai (1 check passed)",
        "[✓] Models · Replicate (1 check passed)",
        "[✓] Aliases (1 check passed)",
        "",
        "no problems found (15 checks in T s: 14 passed, 1 skipped; -v shows each)",
    ]


def test_verbose_lists_every_check_of_a_healthy_setup(sandbox: Sandbox) -> None:
    run = run_subprocess("doctor", "--verbose", env=healthy(sandbox))

    assert run.exit_code == 0
    checks = [line for line in run.lines if line.startswith("    ") and not line.startswith("      ")]
    assert len(checks) == 15
    assert (
        "    ✓ env:FAL_KEY (0000…0003): valid, account sandbox-user, balance 24.50 USD, scope ADMIN" in checks
    )
    assert run.lines[-1].startswith("no problems found (15 checks in ")
    assert run.lines[-1].endswith(" s: 14 passed, 1 skipped)")  # nothing hidden: no hint to use -v


def test_problems_wrap_at_word_boundaries_at_80_columns(sandbox: Sandbox) -> None:
    run = run_in_terminal("doctor", "-m", "fal-ai/flux-dev", env=broken(sandbox))

    assert run.exit_code == 1
    assert run.lines == run.screen  # genctl wrapped the lines itself: the terminal had nothing to fold
    assert max(len(line) for line in run.screen) <= 80
    assert [untimed(line) for line in run.screen] == [
        "[✓] Environment (4 checks passed)",
        "[○] Environment · Replicate (1 check skipped)",
        "[✓] Connectivity · fal.ai (4 checks passed)",
        "[✗] Keys · fal.ai",
        "    ✓ env:FAL_KEY (0000…0001): valid, scope API",
        "    ○ [key.scope] env:FAL_KEY (0000…0001): account and balance not shown: an",
        "      API-scope key cannot read billing (informational, not a failure).",
        "      Fix: To see them here, use an ADMIN key (https://fal.ai/dashboard/keys);",
        "           API keys generate fine.",
        "    ✗ [key.locked] env:FAL_KEY#2 (0000…00e2): fal locked the account of key",
        "      env:FAL_KEY#2 (0000…00e2): User is locked. Reason: Exhausted balance. Top",
        "      up your balance at fal.ai/dashboard/billing.",
        "      Fix: Top up at fal.ai/dashboard/billing; a new key of the same account",
        "           won't help.",
        "[✗] Models · fal.ai",
        "    ✗ [model.not_found] fal-ai/flux-dev: fal has no application 'flux-dev'",
        "      (Application 'flux-dev' not found).",
        "      Fix: Did you mean fal-ai/flux/dev? Also close:",
        "           fal-ai/flux/dev/image-to-image. On Replicate:",
        "           black-forest-labs/flux-dev (-m black-forest-labs/flux-dev). Search:",
        "           genctl models flux dev",
        "[✓] Aliases (1 check passed)",
        "",
        "doctor found 2 problems in 2 areas (14 checks in T s: 2 failed, 10 passed, 2",
        "  skipped; -v shows each)",
    ]


def test_piped_lines_are_whole_and_the_terminal_lines_are_the_same_words(sandbox: Sandbox) -> None:
    piped = run_subprocess("doctor", "-m", "fal-ai/flux-dev", env=broken(sandbox))
    shown = run_in_terminal("doctor", "-m", "fal-ai/flux-dev", env=broken(sandbox))

    assert piped.exit_code == shown.exit_code == 1
    assert piped.stderr == ""  # no spinner off a terminal
    assert (
        "      Fix: Did you mean fal-ai/flux/dev? Also close: fal-ai/flux/dev/image-to-image. On Replicate: "
        "black-forest-labs/flux-dev (-m black-forest-labs/flux-dev). Search: genctl models flux dev"
    ) in piped.lines
    assert max(len(line) for line in piped.lines) > 80
    # The terminal's lines hold the piped ones' words, in order, none split: wrapped only between words.
    assert words(shown.screen) == words(piped.lines)


def words(lines: list[str]) -> list[str]:
    return untimed(" ".join(" ".join(lines).split())).split()


def test_an_id_longer_than_the_terminal_is_never_broken(sandbox: Sandbox) -> None:
    model = "fal-ai/" + "very-long-model-name-" * 4 + "v2"  # 93 characters
    run = run_in_terminal("doctor", "--provider", "fal", "-m", model, env=broken(sandbox))

    assert run.exit_code == 1
    lines = run.lines  # as genctl wrote them (the terminal itself folds a line longer than 80)
    start = lines.index("    ✗ [model.not_found]")
    assert lines[start + 1] == f"      {model}:"  # whole, on a line of its own, though longer than 80
    assert all(len(line) <= 80 for line in lines if "model-name-v2" not in line)


def test_json_has_every_check_whatever_the_layout(sandbox: Sandbox) -> None:
    plain = run_subprocess("doctor", "--json", env=healthy(sandbox))
    verbose = run_subprocess("doctor", "--json", "--verbose", env=healthy(sandbox))

    def shape(run: Any) -> list[tuple[str, str, str]]:
        return [(c["id"], c["status"], c["code"]) for c in json.loads(run.stdout)["checks"]]

    assert plain.exit_code == verbose.exit_code == 0
    assert len(plain.stdout.splitlines()) == 1  # one JSON document
    assert len(shape(plain)) == 15  # the 8 area lines of the text hold 15 checks
    assert shape(plain) == shape(verbose)
    assert json.loads(plain.stdout)["summary"] == {"ok": 14, "warn": 0, "fail": 0, "skip": 1}


# -- --offline ---------------------------------------------------------------------------------------------


def test_offline_says_skipped_and_skips_never_fail_the_run(sandbox: Sandbox) -> None:
    run = run_in_terminal("doctor", "--offline", "--strict", env=healthy(sandbox))

    assert run.exit_code == 0  # --strict fails on warnings; a check not made is neither
    assert sandbox.requests == []
    assert [untimed(line) for line in run.screen] == [
        "[✓] Environment (4 checks passed)",
        "[○] Connectivity · fal.ai (4 checks skipped)",
        "[○] Connectivity · Replicate (1 check skipped)",
        "[○] Keys · fal.ai (1 check skipped)",
        "[○] Keys · Replicate (1 check skipped)",
        "[○] Models · fal.ai (1 check skipped)",
        "[○] Models · Replicate (1 check skipped)",
        "[○] Aliases (1 check skipped)",
        "",
        "no problems found (14 checks in T s: 4 passed, 10 skipped; -v shows each)",
    ]


def test_offline_verbose_names_no_failure_code(sandbox: Sandbox) -> None:
    run = run_subprocess("doctor", "--offline", "--verbose", env=healthy(sandbox))

    assert run.exit_code == 0
    skipped = [line for line in run.lines if line.startswith("    ○")]
    assert len(skipped) == 10
    assert all("[" not in line for line in skipped), skipped  # no `[key.invalid]` on a check not made
    assert "    ○ env:FAL_KEY (0000…0003): validity not checked (--offline)" in skipped
    assert "    ○ aliases: which providers can serve each alias was not checked" in skipped


def test_offline_json_skips_carry_no_failure_code(sandbox: Sandbox) -> None:
    run = run_subprocess("doctor", "--offline", "--json", env=healthy(sandbox))

    doc = json.loads(run.stdout)
    assert run.exit_code == 0 and doc["ok"] is True
    assert doc["summary"] == {"ok": 4, "warn": 0, "fail": 0, "skip": 10}
    skipped = [c for c in doc["checks"] if c["status"] == "skip"]
    assert {c["code"] for c in skipped} == {"skipped"}
    assert {c["id"]: c["details"]["unchecked"] for c in skipped if c["category"] != "connectivity"} == {
        "keys.fal.env:FAL_KEY": "key.invalid",
        "keys.replicate.env:REPLICATE_API_TOKEN": "key.invalid",
        "models.fal.fal-ai/flux/schnell": "model.not_found",
        "models.replicate.black-forest-labs/flux-schnell": "model.not_found",
        "aliases": "key.invalid",
    }


# -- wrapping, at every width ------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _report() -> DoctorReport:
    long_id = "fal-ai/" + "a-model-id-longer-than-any-line-" * 3
    findings = [
        (
            "keys",
            Finding(
                "key.locked",
                "fail",
                "fal locked the account of key env:FAL_KEY (a1b2…9f0e): " * 3,
                "Top up at https://fal.ai/dashboard/billing?from=genctl&reason=locked; a new key won't help.",
            ),
        ),
        (
            "models",
            Finding(
                "model.not_found",
                "fail",
                f"fal has no application {long_id!r}.",
                f"Search: genctl models {long_id}",
            ),
        ),
        ("environment", Finding("ok", "ok", "genctl 0.1.0")),
    ]
    checks = tuple(Check(f"{c}.fal.x", c, "fal", "env:FAL_KEY (a1b2…9f0e)", f) for c, f in findings)
    return DoctorReport(checks, 1.25)


@pytest.mark.parametrize("columns", range(40, 121, 7))
def test_every_width_wraps_between_words_only(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    screen = _Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    rows = text_rows(_report(), verbose=True)
    for row in rows:
        out.prose(row.text, indent=row.indent, hang=row.hang)

    lines = screen.getvalue().splitlines()
    assert words(lines) == words([str(row) for row in rows])  # nothing split, lost or added
    for line in lines:
        assert len(line) <= columns or len(line.split()) == 1, (columns, line)  # only a word that cannot fit
