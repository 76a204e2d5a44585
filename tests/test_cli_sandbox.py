"""`--sandbox` on every command that talks to a provider (#14): each runs against an emulator it starts,
with its demo keys, and never reads or needs the user's own keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genctl.sandbox.keys import FAL_KEY_NO_COLON

SANDBOX_LINE = re.compile(
    r"Sandbox running at http://127\.0\.0\.1:\d+ \(local emulator: no key used, nothing is charged\)\."
)
# A fal key id without its secret: any provider (and the sandbox) refuses it with key.format, so a
# command that read it would fail or warn. With --sandbox it must not matter.
BROKEN_KEYS = {"FAL_KEY": FAL_KEY_NO_COLON, "REPLICATE_API_TOKEN": '"r8_not-a-token"'}


def _stderr(run) -> list[str]:
    """stderr's lines, the sandbox's own (random port) line checked and taken out."""
    lines = run.stderr.splitlines()
    assert SANDBOX_LINE.fullmatch(lines[0]), lines
    return lines[1:]


def test_models_search(genctl) -> None:
    run = genctl("models", "--sandbox", "--provider", "fal", "--category", "text-to-speech")
    assert run.exit_code == 0, run.stderr
    assert run.lines == [
        "fal-ai/elevenlabs/tts/multilingual-v2\tfal\ttext-to-speech\tElevenLabs TTS Multilingual v2\t"
        "Generate multilingual text-to-speech audio using ElevenLabs…\t$0.1/1000 characters"
    ]
    assert _stderr(run) == []


def test_models_show(genctl) -> None:
    run = genctl("models", "show", "fal-ai/flux/dev", "--sandbox", env=BROKEN_KEYS)
    assert run.exit_code == 0, run.stderr
    assert run.lines[:7] == [
        "fal-ai/flux/dev  (fal.ai)",
        "Name: FLUX.1 [dev]",
        "Category: text-to-image",
        "Description: FLUX.1 [dev], a 12 billion parameter flow transformer that generates images from text.",
        "Price: $0.025/image",
        "Also on: Replicate black-forest-labs/flux-dev",
        "Page: https://fal.ai/models/fal-ai/flux/dev",
    ]
    assert run.lines[-2:] == [
        "Example:",
        "genctl generate 'a cat wearing a tiny wizard hat, studio lighting' -m fal-ai/flux/dev",
    ]
    assert _stderr(run) == []  # no warning about the broken keys: they were never read


def test_doctor(genctl) -> None:
    run = genctl("doctor", "--sandbox", env=BROKEN_KEYS)
    assert run.exit_code == 0, run.stderr
    summary = re.sub(r" in \d+\.\d s", " in T s", run.lines[-1])
    assert run.lines[:-1] == [
        "[✓] Environment (4 checks passed)",
        "[✓] Connectivity · fal.ai (4 checks passed)",
        "[✓] Connectivity · Replicate (1 check passed)",
        "[✓] Keys · fal.ai (1 passed, 1 skipped)",
        "[✓] Keys · Replicate (1 passed, 1 skipped)",
        "[✓] Models · fal.ai (1 check passed)",
        "[✓] Models · Replicate (1 check passed)",
        "[✓] Aliases (1 check passed)",
        "",
    ]
    assert summary == "no problems found (16 checks in T s: 14 passed, 2 skipped; -v shows each)"
    assert _stderr(run) == []


def test_doctor_reads_no_key_variable(genctl) -> None:
    run = genctl("doctor", "--sandbox", "--json", env=BROKEN_KEYS)
    assert run.exit_code == 0, run.stderr
    [keys] = [c for c in json.loads(run.stdout)["checks"] if c["id"] == "environment.keys"]
    assert keys["message"] == "keys from sandbox: 2 keys"


def test_keys_status_check(genctl) -> None:
    run = genctl("keys", "status", "--check", "--sandbox", env=BROKEN_KEYS)
    assert run.exit_code == 0, run.stderr
    assert run.lines == [
        "fal\tsandbox\t0000…0001\tsandbox\t\tok\tusable\tnever\t→ next\t"
        "valid, scope API, no account or balance with an API-scope key",
        "replicate\tsandbox\tr8_s…0001\tsandbox\tsandbox-user\tok\tusable\tnever\t→ next\t"
        "valid, account sandbox-user, rate-limit headroom 2999 requests, billing not checked: only running "
        "a model shows it",
        "fal: 1 key, 1 usable, next: sandbox",
        "replicate: 1 key, 1 usable, next: sandbox",
    ]
    assert _stderr(run) == []


def test_generate_reads_no_key_variable(genctl, tmp_path: Path) -> None:
    run = genctl("generate", "--sandbox", "a fox", env=BROKEN_KEYS)
    assert run.exit_code == 0, run.stderr
    [line] = run.lines
    assert re.fullmatch(r"fal-ai-flux-schnell-[0-9a-z]{8}-1\.png", line)
    assert (tmp_path / line).is_file()


@pytest.mark.parametrize(
    "args",
    [("models", "flux"), ("models", "show", "fal-ai/flux/dev"), ("doctor",), ("keys", "status", "--check")],
)
def test_quiet_or_json_keeps_stdout_clean(genctl, args: tuple[str, ...]) -> None:
    run = genctl(*args, "--sandbox", "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["ok"] is True


def test_runs_share_one_cache_folder(genctl, hermetic_env: Path) -> None:
    # Each run has its own port, hence its own URL; the cache is keyed by "sandbox", not by the URL.
    for _ in range(2):
        assert genctl("models", "show", "fal-ai/flux/dev", "--sandbox").exit_code == 0
        assert genctl("models", "flux", "--sandbox").exit_code == 0
    folders = sorted(p.name for p in (hermetic_env / "cache" / "catalog").iterdir())
    assert [re.sub(r"-[0-9a-f]{8}$", "-HASH", name) for name in folders] == [
        "fal-sandbox-HASH",
        "replicate-sandbox-HASH",
    ]
