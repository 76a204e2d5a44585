"""No key leaks from any `genctl keys` command or from failover: stdout, stderr, --debug, state and config."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from genctl.sandbox import Sandbox
from tests.test_secrets import FAL_SECRET, REPLICATE_SECRET, assert_clean

FAL_LOCKED = "7a2d3c4b-5e6f-4a8b-9c0d-1e2f3a4b5c6d:9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a"
FAL_LOCKED_2 = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f:0f1e2d3c4b5a69788796a5b4c3d2e1f0"
FAL_ADDED = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e:a1b2c3d4e5f60718293a4b5c6d7e8f90"
REPLICATE_NO_BILLING = "r8_Nb7Mv6Cx5Zl4Kj3Hg2Fd1Sa0Qw9Er8Ty7Ui6Op"
ALL = [FAL_SECRET, FAL_LOCKED, FAL_LOCKED_2, FAL_ADDED, REPLICATE_SECRET, REPLICATE_NO_BILLING]
SECRETS = [part for key in ALL for part in (key, *key.split(":"), key.removeprefix("r8_"))]

COMMANDS: list[tuple[list[str], str | None, int]] = [  # (argv, stdin, exit code)
    (["keys", "status"], None, 0),
    (["keys", "status", "--json"], None, 0),
    (["keys", "status", "--check"], None, 0),
    (["keys", "status", "--check", "--json", "--provider", "fal"], None, 0),
    (["keys", "list"], None, 0),
    (["keys", "list", "--json"], None, 0),
    (["keys", "add", "fal", "--label", "new", "--check"], FAL_ADDED, 0),
    (["keys", "add", "fal", "--check"], FAL_LOCKED_2, 3),
    (["keys", "add", "fal"], FAL_ADDED.split(":")[0], 3),
    (["keys", "remove", "fal", "ci-1"], None, 0),
    (["keys", "remove", "fal", "env:FAL_KEY"], None, 2),
    (["generate", "a fox", "-m", "fal-ai/flux/schnell", "--json"], None, 0),
    (["generate", "a fox", "-m", "black-forest-labs/flux-schnell"], None, 0),
]


def assert_config_holds_keys_only_as_keys(path: Path) -> None:
    """The config may hold keys (that is what `keys add` is for), but only as `key = …` values."""

    def walk(node: Any, name: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, key)
        elif isinstance(node, list):
            for item in node:
                walk(item, name if isinstance(item, str) else "")
        elif isinstance(node, str) and name not in ("key", "keys"):
            assert_clean(node, SECRETS)

    if path.exists():
        walk(tomllib.loads(path.read_text()), "")


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
@pytest.mark.parametrize(
    ("args", "stdin", "exit_code"), COMMANDS, ids=[" ".join(c[0])[:50] for c in COMMANDS]
)
def test_no_secret_from_any_keys_command(
    genctl,
    sandbox: Sandbox,
    tmp_path: Path,
    hermetic_env: Path,
    debug: list[str],
    args: list[str],
    stdin: str | None,
    exit_code: int,
) -> None:
    sandbox.add_key("fal", FAL_LOCKED, state="locked_balance", account="broke", scope="ADMIN")
    sandbox.add_key("fal", FAL_LOCKED_2, state="locked_admin", account="locked")
    sandbox.add_key("replicate", REPLICATE_NO_BILLING, state="no_billing", account="nobill")
    hermetic_env.mkdir(parents=True)
    config = hermetic_env / "config.toml"
    config.write_text(
        f'[providers.fal]\nkeys = [{{ key = "{FAL_LOCKED}", label = "ci-1", account = "broke" }}]\n'
    )
    config.chmod(0o600)
    env = {
        **sandbox.env(),
        "FAL_KEY": f"  {FAL_SECRET}\n",
        "REPLICATE_API_TOKEN": f'"{REPLICATE_NO_BILLING}, {REPLICATE_SECRET}"',
    }
    # Something to report first: a failover on each provider puts failures and accounts in the state.
    for model in ("fal-ai/flux/schnell", "black-forest-labs/flux-schnell"):
        genctl("generate", "a fox", "-m", model, "--no-download", env=env)
    run = genctl(*debug, *args, env=env, input=stdin)
    assert run.exit_code == exit_code, run.stderr
    assert_clean(run.stdout, SECRETS)
    assert_clean(run.stderr, SECRETS)
    for path in tmp_path.rglob("*"):  # state, downloads, anything else written
        if path.is_file() and path != config:
            assert_clean(path.read_bytes().decode("latin-1"), SECRETS)
    assert (hermetic_env / "state" / "keys.json").is_file()
    assert_config_holds_keys_only_as_keys(config)
    if debug and "--check" in args:
        assert "debug: genctl.http" in run.stderr  # the probes' HTTP exchange was logged and checked
