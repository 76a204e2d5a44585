"""`genctl keys status | add | remove | list` through the CLI, against the sandbox where a key is checked."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk

ODD_FAL = "not-a-uuid:0123456789abcdef0123456789abcdef"  # accepted by the sandbox, odd in shape


def rows(stdout: str) -> list[list[str]]:
    """The rows of the tables in `stdout` (piped: tab-separated, no header; a table's title first)."""
    return [line.split("\t") for line in stdout.splitlines() if "\t" in line]


def write_config(home: Path, text: str, mode: int = 0o600) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def fal_keys_toml(*entries: str) -> str:
    return "[providers.fal]\nkeys = [\n" + "".join(f"  {e},\n" for e in entries) + "]\n"


# -- status ----------------------------------------------------------------------------------------------


def test_status_table_per_provider_with_summary(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    config = write_config(
        hermetic_env, fal_keys_toml(f'{{ key = "{sk.FAL_KEY_OK_2}", label = "ci-2", account = "team" }}')
    )
    env = {
        **sandbox.env(),
        "FAL_KEY": f"{sk.FAL_KEY_OK},{ODD_FAL}",
        "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK,
    }
    assert genctl("generate", "a fox", "-m", "fal-ai/flux/schnell", env=env).exit_code == 0
    run = genctl("keys", "status", env={**env, "COLUMNS": "400"})  # no wrapping of the long tmp path
    assert run.exit_code == 0, run.stderr
    table = [["header"], *(row[1:] for row in rows(run.stdout))]  # less the title (the provider)
    assert table[1][:6] == ["env:FAL_KEY", "0000…0001", "FAL_KEY", "", "ok", "usable"]
    assert table[1][6].endswith(" UTC") and table[1][7] == ""
    assert table[2][:7] == [
        "env:FAL_KEY#2",
        "not-…cdef",
        "FAL_KEY",
        "",
        "warning: not the usual <uuid>:<32 hex> shape",
        "usable",
        "never",
    ]
    assert table[2][7] == "→ next"
    assert table[3][:4] == ["ci-2", "0000…0002", f"config {config}", "team"]
    assert run.lines[-2:] == [
        "fal: 3 keys, 3 usable, next: env:FAL_KEY#2",
        "replicate: 1 key, 1 usable, next: env:REPLICATE_API_TOKEN",
    ]
    assert run.stderr == ""


def test_status_json_schema(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": f"{sk.FAL_KEY_LOCKED_BALANCE},{sk.FAL_KEY_OK}"}
    assert genctl("generate", "a fox", "-m", "fal-ai/flux/schnell", env=env).exit_code == 0
    run = genctl("keys", "status", "--json", env=env)
    assert run.exit_code == 0
    doc = json.loads(run.stdout)
    assert doc["ok"] is True and "error" not in doc
    assert doc["providers"]["replicate"] == {"keys": [], "total": 0, "usable": 0, "next": None}
    fal = doc["providers"]["fal"]
    assert (fal["total"], fal["usable"], fal["next"]) == (2, 1, "env:FAL_KEY#2")
    locked, ok = fal["keys"]
    assert set(locked) == {
        "label", "masked", "fingerprint", "source", "account", "format_warning", "state", "code", "reason",
        "since", "until", "last_used", "next", "check",
    }  # fmt: skip
    assert (locked["state"], locked["code"], locked["masked"], locked["check"]) == (
        "failed",
        "key.locked",
        "0000…00e2",
        None,
    )
    assert locked["since"].endswith("Z") and locked["until"] > locked["since"]
    assert "Exhausted balance" in locked["reason"]
    assert (ok["state"], ok["code"], ok["since"], ok["next"]) == ("usable", None, None, True)
    assert len(ok["fingerprint"]) == 12


def test_status_exit_3_when_a_provider_has_only_failed_keys(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_UNKNOWN, "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}
    assert genctl("generate", "a fox", "-m", "fal-ai/flux/schnell", env=env).exit_code == 3
    run = genctl("keys", "status", env=env)
    assert run.exit_code == 3
    assert "fal: 1 key, 0 usable, next: none" in run.stdout
    assert "Error [key.invalid]: The fal key has failed:" in run.stderr
    run = genctl("keys", "status", "--json", env=env)
    assert run.exit_code == 3
    [line] = run.stdout.splitlines()  # one JSON document, holding the report and the error
    doc = json.loads(line)
    assert (doc["ok"], doc["error"]["code"]) == (False, "key.invalid")
    assert doc["providers"]["replicate"]["usable"] == 1
    assert genctl("keys", "status", "--provider", "replicate", env=env).exit_code == 0


@pytest.mark.parametrize("args", [(), ("--provider", "replicate")])
def test_status_without_keys_is_key_missing(genctl, args: tuple[str, ...]) -> None:
    run = genctl("keys", "status", *args, env={"FAL_KEY": sk.FAL_KEY_OK} if args else {})
    assert run.exit_code == 3
    assert "Error [key.missing]" in run.stderr
    assert "replicate: no keys (set REPLICATE_API_TOKEN, or `genctl keys add replicate`)" in run.stdout


def test_status_check_probes_every_key_concurrently(genctl, sandbox: Sandbox) -> None:
    slow = "r8_sandbox0slow0000000000000000000000000"
    for n in range(3):
        sandbox.add_key("replicate", slow[:-1] + str(n), account=f"slow-{n}")
    # The four Replicate probes are answered only once all four are held at once: sent one after the
    # other, each would wait out the barrier and answer 504.
    sandbox.inject(Fault.barrier(4, timeout=10.0, provider="replicate"))
    env = {
        **sandbox.env(),
        "FAL_KEY": ",".join([sk.FAL_KEY_OK, sk.FAL_KEY_ADMIN, sk.FAL_KEY_UNKNOWN, sk.FAL_KEY_LOCKED_ADMIN]),
        "REPLICATE_API_TOKEN": ",".join(
            [sk.REPLICATE_TOKEN_INVALID, *(slow[:-1] + str(n) for n in range(3))]
        ),
    }
    run = genctl("keys", "status", "--check", "--json", env=env)
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    fal = [k["check"] for k in doc["providers"]["fal"]["keys"]]
    assert [c["status"] for c in fal] == ["valid", "valid", "invalid", "locked"]
    assert (fal[0]["scope"], fal[0]["account"], fal[0]["balance"]) == ("API", None, None)
    assert (fal[1]["scope"], fal[1]["account"], fal[1]["balance"], fal[1]["currency"]) == (
        "ADMIN",
        "sandbox-user",
        24.5,
        "USD",
    )
    assert (fal[2]["code"], fal[3]["code"]) == ("key.invalid", "key.locked")
    replicate = [k["check"] for k in doc["providers"]["replicate"]["keys"]]
    assert [c["status"] for c in replicate] == ["invalid", "valid", "valid", "valid"]
    assert replicate[1]["account"] == "slow-0"
    # Refused keys are now marked failed; the learned accounts stay in the state.
    states = [(k["state"], k["account"]) for k in doc["providers"]["fal"]["keys"]]
    assert states == [
        ("usable", None),
        ("usable", "sandbox-user"),
        ("failed", None),
        ("failed", "sandbox-locked"),
    ]


def test_status_check_text_shows_network_errors_and_balances(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.drop(provider="replicate"))
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_ADMIN, "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}
    run = genctl("keys", "status", "--check", env=env)
    assert run.exit_code == 0, run.stderr
    table = [["header"], *(row[1:] for row in rows(run.stdout))]  # less the title (the provider)
    assert len(table[1]) == 9  # the check column
    assert table[1][-1] == "valid, account sandbox-user, balance 24.50 USD, scope ADMIN"
    assert table[2][-1] == "network error (network.connect)"
    assert "replicate: 1 key, 1 usable" in run.stdout  # a network error is not the key's fault


# -- add -------------------------------------------------------------------------------------------------

OTHER_CONTENT = f"""# my settings
[defaults]
timeout = 90
upload_threshold = 5000

[providers.fal]
api_url = "https://gateway.example.com/fal"
keys = [{{ key = "{sk.FAL_KEY_OK}", label = "ci-1", account = "acme" }}]

[models."fal-ai/flux/dev"]
num_inference_steps = 28
"""


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_add_from_stdin_keeps_everything_else_and_makes_the_file_private(genctl, hermetic_env: Path) -> None:
    config = write_config(hermetic_env, OTHER_CONTENT, mode=0o644)
    before = tomllib.loads(OTHER_CONTENT)
    run = genctl("keys", "add", "fal", "--label", "ci-2", "--account", "team", input=sk.FAL_KEY_OK_2 + "\n")
    assert run.exit_code == 0, run.stderr
    assert f"holds API keys and other users can access it (mode 644): run chmod 600 {config}" in run.stderr
    assert f"Added fal key ci-2 (0000…0002) to {config}." in run.stderr
    assert run.stdout == ""
    assert config.read_text().startswith("# my settings\n[defaults]\n")  # comments kept (genctl.config_edit)
    after = tomllib.loads(config.read_text())
    new = {"key": sk.FAL_KEY_OK_2, "label": "ci-2", "account": "team"}
    before["providers"]["fal"]["keys"].append(new)
    assert after == before
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    run = genctl("keys", "list")
    assert ["fal", "ci-2", "0000…0002", str(config)] in rows(run.stdout)
    assert "Warning" not in run.stderr  # the rewrite fixed the mode


def test_add_keeps_comments_and_layout_when_it_can_append(genctl, hermetic_env: Path) -> None:
    commented = (
        '# team config\n[defaults]\noutput_dir = "out"  # where images go\n'
        "\n[providers.fal]\ntimeout = 60.0\n"
    )
    config = write_config(hermetic_env, commented)
    for label, key in (("ci-1", sk.FAL_KEY_OK), ("ci-2", sk.FAL_KEY_OK_2)):
        run = genctl("keys", "add", "fal", "--label", label, input=key + "\n")
        assert run.exit_code == 0, run.stderr
        assert "comments were not kept" not in run.stderr
    text = config.read_text()
    assert text.startswith(commented)  # every byte the user wrote is still there, in place
    data = tomllib.loads(text)
    assert [k["label"] for k in data["providers"]["fal"]["keys"]] == ["ci-1", "ci-2"]
    assert data["providers"]["fal"]["timeout"] == 60.0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_add_creates_a_private_file_in_a_private_folder_from_the_first_byte(
    genctl, hermetic_env: Path
) -> None:
    old_umask = os.umask(0)  # the modes must not depend on a strict umask
    try:
        run = genctl("keys", "add", "replicate", input=sk.REPLICATE_TOKEN_OK)
    finally:
        os.umask(old_umask)
    assert run.exit_code == 0, run.stderr
    config = hermetic_env / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(hermetic_env.stat().st_mode) == 0o700
    assert tomllib.loads(config.read_text()) == {
        "providers": {"replicate": {"keys": [{"key": sk.REPLICATE_TOKEN_OK, "label": "key-1"}]}}
    }
    run = genctl("keys", "add", "replicate", input=sk.REPLICATE_TOKEN_OK_2)
    assert "Added replicate key key-2" in run.stderr
    assert "comments" not in run.stderr


def test_add_from_a_hidden_prompt_on_a_terminal(
    genctl, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    from genctl.cli import keys as cli_keys

    prompts: list[str] = []
    monkeypatch.setattr(cli_keys, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or sk.FAL_KEY_OK)
    run = genctl("keys", "add", "fal", "--label", "laptop")
    assert run.exit_code == 0, run.stderr
    assert prompts == ["fal key (input hidden): "]
    assert "laptop" in (hermetic_env / "config.toml").read_text()


def test_add_with_nothing_piped_is_a_usage_error_not_a_hang(hermetic_env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "genctl", "keys", "add", "fal"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert "Error [usage.invalid]: No key was given (stdin was empty)." in proc.stderr
    assert 'Fix: echo "$KEY" | genctl keys add fal' in proc.stderr
    assert not (hermetic_env / "config.toml").exists()


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "in_stderr"),
    [
        (("fal",), "", 2, "No key was given"),
        (("fal",), f"{sk.FAL_KEY_OK}\n{sk.FAL_KEY_OK_2}\n", 2, "one key at a time"),
        (("fal",), sk.FAL_KEY_NO_COLON, 3, "Error [key.format]: That is not a whole fal key"),
        (("openai",), sk.FAL_KEY_OK, 2, "Unknown provider 'openai'"),
        (("fal", "--label", "ci-1"), sk.FAL_KEY_OK_2, 2, "already has a fal key labelled 'ci-1'"),
    ],
)
def test_add_refuses(
    genctl, hermetic_env: Path, args: tuple[str, ...], stdin: str, exit_code: int, in_stderr: str
) -> None:
    config = write_config(hermetic_env, fal_keys_toml(f'{{ key = "{sk.FAL_KEY_OK}", label = "ci-1" }}'))
    before = config.read_bytes()
    run = genctl("keys", "add", *args, input=stdin)
    assert run.exit_code == exit_code
    assert in_stderr in run.stderr
    assert config.read_bytes() == before


def test_add_the_same_key_twice_changes_nothing(genctl, hermetic_env: Path) -> None:
    config = write_config(hermetic_env, fal_keys_toml(f'"{sk.FAL_KEY_OK}"'))
    before = config.read_bytes()
    run = genctl("keys", "add", "fal", "--label", "again", input=f'"{sk.FAL_KEY_OK}"')
    assert run.exit_code == 0
    assert f"that fal key is already in {config} as config#1; nothing changed" in run.stderr
    assert config.read_bytes() == before


def test_add_check_probes_before_writing(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    run = genctl("keys", "add", "fal", "--check", input=sk.FAL_KEY_LOCKED_BALANCE, env=sandbox.env())
    assert run.exit_code == 3
    assert "Error [key.locked]" in run.stderr
    assert not (hermetic_env / "config.toml").exists()
    named = hermetic_env / "ci" / "genctl.toml"  # named by GENCTL_CONFIG, created by this very command
    env = {**sandbox.env(), "GENCTL_CONFIG": str(named)}
    run = genctl("keys", "add", "fal", "--check", input=sk.FAL_KEY_ADMIN, env=env)
    assert run.exit_code == 0, run.stderr
    assert "fal key key-1 (0000…0003) is valid (account sandbox-user)." in run.stderr
    assert sk.FAL_KEY_ADMIN in named.read_text()


# -- remove, list ----------------------------------------------------------------------------------------


def test_remove_by_label_and_what_cannot_be_removed(genctl, hermetic_env: Path) -> None:
    config = write_config(
        hermetic_env,
        "[defaults]\ntimeout = 90\n"
        + fal_keys_toml(f'"{sk.FAL_KEY_OK}"', f'{{ key = "{sk.FAL_KEY_OK_2}", label = "ci-2" }}'),
    )
    env = {"FAL_KEY": sk.FAL_KEY_ADMIN}
    run = genctl("keys", "remove", "fal", "ci-3", env=env)
    assert run.exit_code == 2
    assert f"{config} has no fal key labelled 'ci-3' (labels: config#1, ci-2)." in run.stderr
    run = genctl("keys", "remove", "fal", "env:FAL_KEY", env=env)
    assert run.exit_code == 2
    assert "comes from FAL_KEY, not from" in run.stderr
    run = genctl("keys", "remove", "fal", "config#1", env=env)
    assert run.exit_code == 0, run.stderr
    assert f"Removed fal key config#1 (0000…0001) from {config}." in run.stderr
    assert tomllib.loads(config.read_text()) == {
        "defaults": {"timeout": 90},
        "providers": {"fal": {"keys": [{"key": sk.FAL_KEY_OK_2, "label": "ci-2"}]}},
    }
    run = genctl("keys", "list", "--json", env=env)
    assert json.loads(run.stdout) == {
        "ok": True,
        "keys": [
            {"provider": "fal", "label": "env:FAL_KEY", "masked": "0000…0003", "source": "FAL_KEY"},
            {"provider": "fal", "label": "ci-2", "masked": "0000…0002", "source": str(config)},
        ],
    }


def test_list_without_keys(genctl) -> None:
    run = genctl("keys", "list")
    assert (run.exit_code, run.stdout) == (0, "")
    assert "No keys configured" in run.stderr


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
@pytest.mark.parametrize(
    "args",
    [("keys", "status"), ("keys", "list"), ("keys", "list", "--json"), ("keys", "remove", "fal", "ci-1")],
)
def test_keys_commands_warn_when_the_config_is_readable_by_others(
    genctl, hermetic_env: Path, args: tuple[str, ...]
) -> None:
    config = write_config(
        hermetic_env, fal_keys_toml(f'{{ key = "{sk.FAL_KEY_OK}", label = "ci-1" }}'), 0o640
    )
    run = genctl(*args, env={"FAL_KEY": sk.FAL_KEY_OK_2})
    assert (
        f"Warning: {config} holds API keys and other users can access it (mode 640): run chmod 600 {config}"
        in (run.stderr)
    )


@pytest.mark.skipif(os.name == "nt", reason="select() on pipes")
def test_an_idle_pipe_counts_as_nothing_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    from genctl.cli import keys as cli_keys

    monkeypatch.setattr(cli_keys, "STDIN_WAIT", 0.05)
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as idle, os.fdopen(write_end, "w") as writer:
        assert cli_keys._has_input(idle) is False  # a writer that never writes: no hang
        writer.write("key\n")
        writer.flush()
        assert cli_keys._has_input(idle) is True


def test_check_names_a_colonless_fal_key_as_a_format_problem(genctl, sandbox) -> None:  # type: ignore[no-untyped-def]
    run = genctl("keys", "status", "--check", "--json", env={**sandbox.env(), "FAL_KEY": sk.FAL_KEY_NO_COLON})
    assert run.exit_code == 3
    [key] = json.loads(run.stdout)["providers"]["fal"]["keys"]
    assert key["check"]["code"] == "key.format"
    assert "both halves, one colon" in key["check"]["fix"]


def test_remove_from_an_inline_array_keeps_the_comments(genctl, hermetic_env: Path) -> None:
    config = write_config(
        hermetic_env, "# mine\n" + fal_keys_toml(f'{{ key = "{sk.FAL_KEY_OK}", label = "ci-1" }}')
    )
    run = genctl("keys", "remove", "fal", "ci-1")
    assert run.exit_code == 0, run.stderr
    assert f"Removed fal key ci-1 (0000…0001) from {config}.\n" == run.stderr
    assert config.read_text() == "# mine\n[providers.fal]\nkeys = [\n]\n"
