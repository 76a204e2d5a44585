"""No key ever leaks: run every command with known keys and grep stdout, stderr, --debug output and every
file written for the secrets (whole, and each half of a fal key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk

FAL_SECRET = "6f1c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f:8c2f9a4e1b7d6c3a5e0f9b8d7c6a5e4f"
REPLICATE_SECRET = "r8_Zq4Xw9Lm2Np7Rs5Tu8Vy1Ab3Cd6Ef0Gh2Jk4M"
SECRETS = [FAL_SECRET, *FAL_SECRET.split(":"), REPLICATE_SECRET, REPLICATE_SECRET[3:]]
BUILT_IN = [sk.FAL_KEY_LOCKED_BALANCE, sk.FAL_KEY_LOCKED_BALANCE.split(":")[1], sk.REPLICATE_TOKEN_INVALID]


def assert_clean(text: str, secrets: list[str] = SECRETS) -> None:
    for secret in secrets:
        assert secret not in text, "a secret leaked"


def assert_files_clean(root: Path, secrets: list[str] = SECRETS) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"a secret leaked into {path}"


COMMANDS = [  # (argv, the exit code it must end with: each really ran)
    (["generate", "a fox", "-m", "fal-ai/flux/schnell", "-p", "num_images=2", "-o", "out"], 0),
    (["generate", "a fox", "-m", "fal-ai/flux/schnell", "--json"], 0),
    (["generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--json"], 0),
    (["generate", "a fox", "-m", "fal-ai/flux/dev", "--no-download"], 0),
    (["generate", "a fox", "-m", "fal-ai/flux/dev", "--dry-run"], 0),
    (["generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--dry-run"], 0),
    (["generate", "a fox", "-m", "fal-ai/flux-dev", "--json"], 4),
    (["generate", "a fox", "-m", "fal-ai/flux/schnell", "-p", "num_images=99"], 5),  # pre-flight
    (["generate", "a fox", "-m", "fal-ai/flux/schnell", "-p", "num_images=99", "--no-validate"], 5),  # 422
    (["generate", "a fox", "-m", "stability-ai/sdxl", "--no-validate"], 4),  # 422 + catalogue look-up
    (["models", "--json"], 0),
    (["models", "flux", "--refresh"], 0),
    (["models", "show", "fal-ai/flux/dev"], 0),
    (["models", "show", "black-forest-labs/flux-schnell", "--json"], 0),
    (["models", "show", "fal-ai/flux-dev"], 4),
    (["generate", "[sandbox:hang] a fox", "-m", "fal-ai/flux/dev", "--timeout", "0.3"], 7),
    (["generate", "[sandbox:fail] a fox", "-m", "black-forest-labs/flux-schnell"], 1),
    (["config", "show"], 0),
    (["config", "show", "--json"], 0),
    (["config", "path", "--json"], 0),
]


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
@pytest.mark.parametrize(("args", "exit_code"), COMMANDS, ids=[" ".join(a)[:60] for a, _ in COMMANDS])
def test_no_secret_in_any_output(
    genctl, sandbox: Sandbox, tmp_path: Path, debug: list[str], args: list[str], exit_code: int
) -> None:
    env = {**sandbox.env(), "FAL_KEY": f"  {FAL_SECRET}\n", "REPLICATE_API_TOKEN": f'"{REPLICATE_SECRET}"'}
    run = genctl(*debug, *args, env=env, input="")
    assert run.exit_code == exit_code, run.stderr
    assert_clean(run.stdout)
    assert_clean(run.stderr)
    assert_files_clean(tmp_path)
    if debug and args[0] == "generate" and "--dry-run" not in args:
        assert "debug: genctl.http" in run.stderr  # the debug output really was produced and checked


def test_no_secret_when_the_provider_rejects_the_key(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.inject(Fault.cloudflare(provider="replicate", method="POST"))
    for args, env in [
        (["generate", "a fox", "-m", "fal-ai/flux/dev"], {"FAL_KEY": sk.FAL_KEY_LOCKED_BALANCE}),
        (
            ["generate", "a fox", "-m", "black-forest-labs/flux-schnell"],
            {"REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_INVALID},
        ),
    ]:
        run = genctl("--debug", *args, "--json", env={**sandbox.env(), **env})
        assert run.exit_code in (3, 7)
        assert_clean(run.stdout + run.stderr, BUILT_IN)
    assert_files_clean(tmp_path, BUILT_IN)


def test_no_secret_in_a_subprocess_with_genctl_debug(sandbox: Sandbox, tmp_path: Path) -> None:
    from tests.conftest import run_subprocess

    env = {**sandbox.env(), "FAL_KEY": FAL_SECRET, "GENCTL_DEBUG": "1"}
    run = run_subprocess("generate", "a fox", "-m", "fal-ai/flux-dev", env=env)
    assert run.exit_code == 4
    assert "Traceback" in run.stderr  # GENCTL_DEBUG=1 shows the traceback…
    assert_clean(run.stdout + run.stderr)  # …and still no key
