"""Leak test (#12): plant keys no server knows (fal `id:secret`, Replicate `r8_…`) and run the commands a
user runs — generate (rejected key, dry run, --debug), models, doctor and its --report, keys status and
--check, history, result — then grep stdout, stderr, the report and every file under GENCTL_HOME (sqlite
as its SQL dump and raw bytes) for each key in every form (tests/leak_support.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genctl.errors import CODES
from genctl.sandbox import Fault, Sandbox
from genctl.values import mask
from tests.conftest import run_subprocess
from tests.leak_support import GarbageServer, echo_of, home_text, leaks
from tests.support import FAL_SECRET

REPLICATE_SECRET = "r8_Zq9XwV3kLm7Np2Rt5Yb8Cd4Fg6Hj1Ks0Qe3Tu"  # well-formed: the sandbox accepts it
EXITS = {0} | {code for code, _ in CODES.values()}
COMMANDS = [
    ("generate", "a fox", "-m", "fal-ai/flux/schnell"),
    ("generate", "a fox", "-m", "fal-ai/flux/schnell", "--json"),
    ("generate", "a fox", "-m", "fal-ai/flux/schnell", "--dry-run"),
    ("generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--json"),
    ("generate", "a fox", "-m", "black-forest-labs/flux-schnell", "--dry-run"),
    ("--debug", "generate", "a fox", "-m", "fal-ai/flux/schnell"),
    ("models", "list", "--json"),
    ("doctor", "--json"),
    ("keys", "status"),
    ("keys", "status", "--check", "--json"),
    ("history", "--json"),
    ("result", "00000000-dead-beef-0000-000000000000", "--json"),
]


def assert_clean(text: str, where: str) -> None:
    for key in (FAL_SECRET, REPLICATE_SECRET):
        assert leaks(text, key) == [], f"{where}: {leaks(text, key)}"


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_no_form_of_a_planted_key_in_any_output(
    genctl, sandbox: Sandbox, hermetic_env: Path, args: tuple[str, ...]
) -> None:
    env = {**sandbox.env(), "FAL_KEY": FAL_SECRET, "REPLICATE_API_TOKEN": REPLICATE_SECRET}
    run = genctl(*args, env=env)
    assert "Traceback" not in run.stderr or args[0] == "--debug"
    assert "No such" not in run.stderr  # the command really ran
    assert run.exit_code != 2 or args[0] == "result", run.stderr  # an unknown id is usage.invalid
    assert_clean(run.stdout, "stdout")
    assert_clean(run.stderr, "stderr")
    if hermetic_env.exists():
        assert_clean(home_text(hermetic_env), "GENCTL_HOME")


def test_no_form_of_a_planted_key_in_the_doctor_report_or_a_debug_subprocess(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = {**sandbox.env(), "FAL_KEY": FAL_SECRET, "REPLICATE_API_TOKEN": REPLICATE_SECRET}
    report = tmp_path / "report.md"
    for args in (
        ("doctor", "--report", str(report)),
        ("--debug", "generate", "a fox", "-m", "fal-ai/flux/schnell"),
    ):
        run = run_subprocess(*args, env=env, timeout=120)
        assert_clean(run.stdout + run.stderr, " ".join(args))
    assert_clean(report.read_text(encoding="utf-8"), "doctor report")


# -- every error path (#12): a provider answering an error that echoes the key, transport failures, a
# batch with failures, doctor --report and keys status --check; each with and without --debug --------

PROVIDERS = {
    # provider -> (model, the sandbox host family its calls go to, the planted key, its env var)
    "fal": ("fal-ai/flux/schnell", "fal", FAL_SECRET, "GENCTL_FAL_QUEUE_URL"),
    "replicate": (
        "black-forest-labs/flux-schnell",
        "replicate",
        REPLICATE_SECRET,
        "GENCTL_REPLICATE_API_URL",
    ),
}
STATUSES = [401, 403, 404, 422, 429, 500]


@pytest.fixture(scope="module")
def shared_box() -> Iterator[Sandbox]:
    """One sandbox for the module (starting one per test costs more than the runs)."""
    with Sandbox() as box:
        yield box


@pytest.fixture
def box(shared_box: Sandbox) -> Iterator[Sandbox]:
    shared_box.clear_faults()
    yield shared_box
    shared_box.clear_faults()


def planted_env(box: Sandbox) -> dict[str, str]:
    return {**box.env(), "FAL_KEY": FAL_SECRET, "REPLICATE_API_TOKEN": REPLICATE_SECRET}


def echo_fault(provider: str, status: int, **match: Any) -> Fault:
    """`status` from every host of `provider` to each request that carries the key (a server can only
    echo what it was sent), its body quoting the key in every form."""
    _, host, key, _ = PROVIDERS[provider]
    headers = {"Retry-After": "0"} if status == 429 else {}
    body = {"detail": f"rejected: {echo_of(key)}", "error": {"message": echo_of(key)}}
    return Fault.http(status, body, headers=headers, provider=host, key=key, **match)


def run_clean(genctl: Any, home: Path, *args: str, env: dict[str, str]) -> Any:
    """Run `genctl --debug ARGS --json` — the JSON error on stdout; on stderr the human Error/Fix lines (the
    same with or without --debug), the HTTP log and the traceback — and assert no form of either key shows
    in stdout, stderr or any file under GENCTL_HOME."""
    full = ("--debug", *args, "--json")
    run = genctl(*full, env=env)
    assert_clean(run.stdout, f"stdout of {full}")
    assert_clean(run.stderr, f"stderr of {full}")
    if home.exists():
        assert_clean(home_text(home), f"GENCTL_HOME after {full}")
    if run.exit_code != 0 and args[0] == "generate":  # doctor's failed checks are findings, not an error
        assert json.loads(run.stdout.splitlines()[-1])["ok"] is False, run.stdout
        errors = [line for line in run.stderr.splitlines() if line.startswith("Error [")]
        assert len(errors) == 1 and "Traceback (most recent call last):" in run.stderr, run.stderr
    return run


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_provider_error_quoting_the_key_leaks_nothing(
    genctl, box: Sandbox, hermetic_env: Path, provider: str, status: int
) -> None:
    model = PROVIDERS[provider][0]
    box.inject(echo_fault(provider, status))
    run = run_clean(
        genctl, hermetic_env, "generate", "a fox", "-m", model, "--timeout", "5", env=planted_env(box)
    )
    assert run.exit_code in EXITS - {0}, (run.exit_code, run.stderr)
    # the echo was quoted, masked: the test saw the text it guards
    shown = mask(PROVIDERS[provider][2], provider)
    assert f"{shown} {shown}" in run.stdout + run.stderr, run.stderr


TRANSPORT = ["reset", "hang", "garbage", "tls"]


@pytest.mark.parametrize("failure", TRANSPORT)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_transport_failure_leaks_nothing(
    genctl, box: Sandbox, hermetic_env: Path, provider: str, failure: str
) -> None:
    model, host, key, url_var = PROVIDERS[provider]
    env = planted_env(box)
    # garbage: not HTTP at all, and quoting the key (httpx's parser quotes the bad status line it read)
    garbage = GarbageServer(f"KEY {key} {echo_of(key)}\r\n\r\n".encode())
    if failure in ("reset", "hang"):
        box.inject(Fault(action=failure, provider=host, method="POST"))
    elif failure == "garbage":
        env[url_var] = garbage.url + "/x"
    else:  # TLS spoken to a plain-HTTP port: the handshake reads an HTTP answer
        env[url_var] = env[url_var].replace("http://", "https://")
    with garbage:
        run = run_clean(genctl, hermetic_env, "generate", "a fox", "-m", model, "--timeout", "0.3", env=env)
    assert run.exit_code in EXITS - {0}, (run.exit_code, run.stderr)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_batch_with_failures_leaks_nothing(
    genctl, box: Sandbox, hermetic_env: Path, tmp_path: Path, provider: str
) -> None:
    model = PROVIDERS[provider][0]
    batch = tmp_path / "prompts.txt"
    batch.write_text("a fox\na cat\nan owl\n", encoding="utf-8")
    box.inject(echo_fault(provider, 422, method="POST", times=1))
    box.inject(echo_fault(provider, 500, method="POST", times=1))
    run = run_clean(
        genctl,
        hermetic_env,
        "generate",
        "--batch",
        str(batch),
        "-m",
        model,
        "--concurrency",
        "1",
        "-o",
        str(tmp_path / "out"),
        env=planted_env(box),
    )
    assert run.exit_code in EXITS - {0}, (run.exit_code, run.stderr)
    # the batch went past both failures: two failed items, one success, the summary
    assert [json.loads(line)["ok"] for line in run.stdout.splitlines()] == [False, False, True, False]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_doctor_report_and_keys_check_against_an_echoing_provider_leak_nothing(
    genctl, box: Sandbox, hermetic_env: Path, tmp_path: Path, provider: str
) -> None:
    box.inject(echo_fault(provider, 401))
    env = planted_env(box)
    report = tmp_path / "report.md"
    run_clean(genctl, hermetic_env, "doctor", "--report", str(report), env=env)
    assert_clean(report.read_text(encoding="utf-8"), "doctor report")
    run_clean(genctl, hermetic_env, "keys", "status", "--check", env=env)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_long_error_cut_inside_the_echoed_key_shows_no_part_of_it(
    genctl, box: Sandbox, hermetic_env: Path, provider: str
) -> None:
    """Error texts are cut to 400 characters: a cut falling inside an echoed key must not leave its head
    behind (redaction runs before the cut, where the whole key is still there to recognise)."""
    model, host, key, _ = PROVIDERS[provider]
    detail = "x" * (399 - len(key) + 10) + key  # the cut at 399 leaves all but the key's last 10 chars
    box.inject(Fault.http(400, {"detail": detail}, provider=host, key=key, method="POST"))
    run = genctl("generate", "a fox", "-m", model, "--json", env=planted_env(box))
    assert run.exit_code in EXITS - {0}, run.stderr
    for text in (run.stdout, run.stderr):
        assert key[:-10] not in text
        assert f"x {mask(key, provider)}" not in text  # whitespace is folded before the cut, not after
        assert f"x{mask(key, provider)}" in text, text


@pytest.mark.parametrize("key", [FAL_SECRET, REPLICATE_SECRET], ids=["fal", "replicate"])
def test_a_key_pasted_into_the_wrong_setting_is_quoted_masked(genctl, home: Path, key: str) -> None:
    (home / "config.toml").write_text(f'[history]\nenabled = "{key}"\n', encoding="utf-8")
    (home / "config.toml").chmod(0o600)
    run = genctl("config", "show")
    provider = "fal" if key == FAL_SECRET else "replicate"
    label = {"fal": "fal.ai", "replicate": "Replicate"}[provider]
    assert run.exit_code == 2
    assert run.stderr.splitlines()[0] == (
        f"Error [config.invalid]: [history] enabled in {home / 'config.toml'} must be true or false, "
        f"not what looks like a {label} key ({mask(key, provider)})"
    )
    assert_clean(run.stdout + run.stderr, "config show")


def test_a_keyless_retry_answer_quoting_the_refused_key_leaks_nothing(
    genctl, box: Sandbox, hermetic_env: Path
) -> None:
    """fal's platform API refuses the key (401), genctl asks once more without it (the listing is public),
    and that answer quotes the key it was sent the first time: it is masked as well."""
    platform = r"/fal/api/v1/models$"
    box.inject(Fault.http(401, {"detail": "No user found"}, provider="fal", key=FAL_SECRET, path=platform))
    box.inject(Fault.http(500, {"detail": f"boom: {echo_of(FAL_SECRET)}"}, provider="fal", path=platform))
    run = run_clean(genctl, hermetic_env, "models", "show", "fal-ai/flux/dev", env=planted_env(box))
    assert run.exit_code in EXITS - {0}, (run.exit_code, run.stderr)
    assert box.count(platform) >= 2  # the keyed try and the keyless one
    shown = mask(FAL_SECRET, "fal")
    assert f"{shown} {shown}" in run.stdout + run.stderr, run.stderr
