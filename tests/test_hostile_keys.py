"""Keys as users really paste them (issue 12): one per line, wrapped, with a zero-width space or a CR inside.
Each is split like a comma list or refused as key.format — showing only the masked form — and a key that
could never work is never sent, with one finding in generate, keys status --check, doctor and keys add."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genctl.key_sources import env_keys
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from genctl.values import fingerprint

OK, ADMIN = sk.FAL_KEY_OK, sk.FAL_KEY_ADMIN
ZWSP = OK[:20] + "\u200b" + OK[20:]  # a zero-width space from a copy-paste, inside the key id
ZWSP_MESSAGE = (
    "env:FAL_KEY (0000…0001) has the character U+200B (zero width space) at position 21, "
    "which no HTTP header can carry."
)
ZWSP_FIX = "Paste the key again from the provider's key page (copies from documents add such characters)."


def sent_with(box: Sandbox, secret: str) -> int:
    return sum(1 for r in box.requests if r.key_fingerprint == fingerprint(secret))


def test_one_key_per_line_is_a_list_of_keys() -> None:
    warnings: list[str] = []
    keys = env_keys("fal", {"FAL_KEY": f"{OK}\n{ADMIN}\r\n"}, warnings)
    assert [(k.label, k.reveal()) for k in keys] == [("env:FAL_KEY", OK), ("env:FAL_KEY#2", ADMIN)]
    assert warnings == [
        "FAL_KEY (the whole list): removed surrounding whitespace or a newline from the key — "
        "providers reject it (401)",
        "FAL_KEY holds several keys separated by spaces or line breaks: each is used as its own key",
    ]


def test_commas_and_lines_mix() -> None:
    keys = env_keys("fal", {"FAL_KEY": f"{OK},\n{ADMIN}"}, [])
    assert [k.reveal() for k in keys] == [OK, ADMIN]


def test_a_replicate_token_list_over_lines() -> None:
    keys = env_keys(
        "replicate", {"REPLICATE_API_TOKEN": f"{sk.REPLICATE_TOKEN_OK}\n{sk.REPLICATE_TOKEN_INVALID}"}, []
    )
    assert [k.reveal() for k in keys] == [sk.REPLICATE_TOKEN_OK, sk.REPLICATE_TOKEN_INVALID]


def test_keys_one_per_line_generate(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/schnell",
        "--json",
        env={**sandbox.env(), "FAL_KEY": f"{OK}\n{ADMIN}"},
    )
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["key_label"] == "env:FAL_KEY"
    assert OK not in run.stderr and OK.split(":")[1] not in run.stderr


def test_zero_width_space_generate_is_key_format_and_never_sent(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate", "a fox", "-m", "fal-ai/flux/schnell", "--json", env={**sandbox.env(), "FAL_KEY": ZWSP}
    )
    assert run.exit_code == 3
    assert json.loads(run.stdout)["error"] == {
        "code": "key.format",
        "message": ZWSP_MESSAGE,
        "fix": ZWSP_FIX,
        "provider": "fal",
        "http_status": None,
    }
    assert run.stderr.splitlines()[-2:] == [f"Error [key.format]: {ZWSP_MESSAGE}", f"Fix: {ZWSP_FIX}"]
    assert sent_with(sandbox, ZWSP) == 0
    assert "Traceback" not in run.stderr


def test_zero_width_space_keys_status_check(genctl, sandbox: Sandbox) -> None:
    run = genctl("keys", "status", "--check", "--json", env={**sandbox.env(), "FAL_KEY": ZWSP})
    assert run.exit_code == 3
    [key] = json.loads(run.stdout)["providers"]["fal"]["keys"]
    assert (key["state"], key["code"], key["reason"]) == ("failed", "key.format", ZWSP_MESSAGE)
    assert sent_with(sandbox, ZWSP) == 0


def test_zero_width_space_doctor(genctl, sandbox: Sandbox) -> None:
    run = genctl("doctor", "--json", env={**sandbox.env(), "FAL_KEY": ZWSP})
    assert run.exit_code == 1
    checks = {c["id"]: c for c in json.loads(run.stdout)["checks"]}
    check = checks["keys.fal.env:FAL_KEY"]
    assert (check["status"], check["code"], check["message"], check["fix"]) == (
        "fail",
        "key.format",
        ZWSP_MESSAGE,
        ZWSP_FIX,
    )
    assert sent_with(sandbox, ZWSP) == 0


def test_zero_width_space_models_never_sends_it(genctl, sandbox: Sandbox) -> None:
    run = genctl("models", "flux", "--json", env={**sandbox.env(), "FAL_KEY": ZWSP})
    assert run.exit_code == 0, run.stderr
    assert sent_with(sandbox, ZWSP) == 0
    assert "Traceback" not in run.stderr


def test_keys_add_refuses_a_zero_width_space(genctl, home: Path) -> None:
    run = genctl("keys", "add", "fal", input=ZWSP + "\n")
    assert run.exit_code == 3
    assert run.stderr.splitlines()[-2:] == [
        "Error [key.format]: key-1 (0000…0001) (from "
        f"{home / 'config.toml'}) has the character U+200B (zero width space) at position 21, which no HTTP "
        "header can carry.",
        f"Fix: {ZWSP_FIX}",
    ]
    assert not (home / "config.toml").exists() or ZWSP not in (home / "config.toml").read_text()


def test_a_config_key_with_a_line_break_is_key_format(genctl, home: Path, sandbox: Sandbox) -> None:
    config = home / "config.toml"
    config.write_text(f'[providers.fal]\nkeys = ["{OK[:30]}\\n{OK[30:]}"]\n')
    config.chmod(0o600)
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/schnell", env=sandbox.env())
    assert run.exit_code == 3
    assert run.stderr.splitlines()[-2:] == [
        f"Error [key.format]: config#1 (0000…0001) (from {config}) has a space or line break inside it.",
        "Fix: Paste the key again as one unbroken line.",
    ]
    assert not sandbox.requests or all(
        r.key_fingerprint != fingerprint(OK[:30] + "\n" + OK[30:]) for r in sandbox.requests
    )


def test_key_without_colon_is_never_sent_and_the_next_key_serves(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": f"{sk.FAL_KEY_NO_COLON},{OK}"}
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/schnell", "--json", env=env)
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["key_label"] == "env:FAL_KEY#2"
    assert sent_with(sandbox, sk.FAL_KEY_NO_COLON) == 0


@pytest.mark.parametrize("inside", ["\x01", "\x7f", "é"])
def test_every_unsendable_character_is_key_format_masked(genctl, sandbox: Sandbox, inside: str) -> None:
    secret = OK[:40] + inside + OK[40:]
    run = genctl(
        "generate", "a fox", "-m", "fal-ai/flux/schnell", "--json", env={**sandbox.env(), "FAL_KEY": secret}
    )
    assert run.exit_code == 3
    error = json.loads(run.stdout)["error"]
    assert error["code"] == "key.format"
    assert "(0000…0001)" in error["message"]
    for text in (run.stdout, run.stderr):
        assert OK[20:40] not in text and OK[41:] not in text
