"""Failover inside one `genctl generate`, end to end against the sandbox: which key each request used."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from genctl.errors import error
from genctl.keys import KeyPool
from genctl.keys.state import KeyStore
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from genctl.values import Key, fingerprint
from tests.support import PNG

FAL_MATE = (
    "00000000-0000-4000-8000-0000000000a2:5a4d00000000000000000000000000a2"  # same account as LOCKED_ADMIN
)
REPLICATE_MATE = "r8_sandbox0nobilling0mate00000000000000a2"  # same account as NO_BILLING


def submits(box: Sandbox, key: str) -> int:
    """Submits (paid POSTs) the sandbox saw with `key`."""
    return sum(
        1
        for r in box.requests
        if r.method == "POST"
        and r.key_fingerprint == fingerprint(key)
        and r.host in ("fal.queue", "replicate")
        and (r.host == "fal.queue" or r.path.endswith("/predictions"))
    )


def config_with(home: Path, provider: str, *entries: tuple[str, str, str | None]) -> Path:
    """A private config file holding `(key, label, account)` entries for `provider`."""
    lines = [f"[providers.{provider}]", "keys = ["]
    for key, label, account in entries:
        extra = f', account = "{account}"' if account else ""
        lines.append(f'  {{ key = "{key}", label = "{label}"{extra} }},')
    lines.append("]")
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def status_json(genctl, box: Sandbox, env: dict[str, str], provider: str) -> list[dict]:  # type: ignore[no-untyped-def]
    run = genctl("keys", "status", "--json", "--provider", provider, env={**box.env(), **env})
    return json.loads(run.stdout)["providers"][provider]["keys"]


FAL = ("-m", "fal-ai/flux/schnell")
REPLICATE = ("-m", "black-forest-labs/flux-schnell")


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (sk.FAL_KEY_UNKNOWN, "key.invalid"),
        # A key without a colon is never sent at all: tests/test_hostile_keys.py.
        (sk.FAL_KEY_LOCKED_BALANCE, "key.locked"),
    ],
)
def test_fal_rejected_key_fails_over_and_the_output_is_delivered(
    genctl, sandbox: Sandbox, tmp_path: Path, bad: str, code: str
) -> None:
    env = {**sandbox.env(), "FAL_KEY": f"{bad},{sk.FAL_KEY_OK}"}
    run = genctl("generate", "a fox", *FAL, "--json", env=env)
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert (doc["key_label"], doc["key"]) == ("env:FAL_KEY#2", "0000…0001")  # the key that served it
    assert (tmp_path / doc["outputs"][0]["path"]).read_bytes().startswith(PNG)
    assert f"Warning: fal key env:FAL_KEY failed ({code}); using env:FAL_KEY#2" in run.stderr
    assert (submits(sandbox, bad), submits(sandbox, sk.FAL_KEY_OK)) == (1, 1)
    [first, _] = status_json(genctl, sandbox, {"FAL_KEY": f"{bad},{sk.FAL_KEY_OK}"}, "fal")
    assert (first["state"], first["code"]) == ("failed", code)


@pytest.mark.parametrize(
    "bad", [sk.REPLICATE_TOKEN_NO_BILLING, sk.REPLICATE_TOKEN_NO_CREDIT, sk.REPLICATE_TOKEN_INVALID]
)
def test_replicate_402_and_401_fail_over_and_the_output_is_delivered(
    genctl, sandbox: Sandbox, tmp_path: Path, bad: str
) -> None:
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": f"{bad},{sk.REPLICATE_TOKEN_OK}"}
    run = genctl("generate", "a fox", *REPLICATE, "--json", env=env)
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["key_label"] == "env:REPLICATE_API_TOKEN#2"
    assert (tmp_path / doc["outputs"][0]["path"]).read_bytes().startswith(PNG)
    assert (submits(sandbox, bad), submits(sandbox, sk.REPLICATE_TOKEN_OK)) == (1, 1)


def test_a_fal_lock_sets_aside_every_key_of_the_account(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    sandbox.add_key("fal", FAL_MATE, account="sandbox-locked")  # it would work: the lock is what matters
    config_with(
        hermetic_env,
        "fal",
        (sk.FAL_KEY_LOCKED_ADMIN, "ci-1", "acme"),
        (FAL_MATE, "ci-2", "acme"),
        (sk.FAL_KEY_OK, "ci-3", "other"),
    )
    run = genctl("generate", "a fox", *FAL, "--json", env=sandbox.env())
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["key_label"] == "ci-3"
    assert (
        "fal key ci-1 failed (key.locked; 1 more key(s) of its account set aside); using ci-3" in run.stderr
    )
    assert submits(sandbox, FAL_MATE) == 0
    keys = status_json(genctl, sandbox, {}, "fal")
    assert [k["state"] for k in keys] == ["failed", "failed", "usable"]
    assert keys[1]["reason"] == "same account (acme) as ci-1"


def test_a_replicate_402_learns_accounts_from_the_api_and_sets_the_account_aside(
    genctl, sandbox: Sandbox
) -> None:
    sandbox.add_key("replicate", REPLICATE_MATE, state="no_billing", account="sandbox-nobilling")
    tokens = f"{sk.REPLICATE_TOKEN_NO_BILLING},{REPLICATE_MATE},{sk.REPLICATE_TOKEN_OK}"
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": tokens}
    run = genctl("generate", "a fox", *REPLICATE, "--json", env=env)
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["key_label"] == "env:REPLICATE_API_TOKEN#3"
    assert submits(sandbox, REPLICATE_MATE) == 0  # GET /account only, never a paid POST
    keys = status_json(genctl, sandbox, {"REPLICATE_API_TOKEN": tokens}, "replicate")
    assert [(k["state"], k["account"]) for k in keys] == [
        ("failed", "sandbox-nobilling"),
        ("failed", "sandbox-nobilling"),
        ("usable", "sandbox-user"),
    ]


def test_429_switches_at_once_to_a_key_of_another_account(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    config_with(hermetic_env, "fal", (sk.FAL_KEY_OK, "ci-1", "acme"), (sk.FAL_KEY_OK_2, "ci-2", "team"))
    sandbox.inject(Fault.rate_limited("fal.queue", retry_after=5, method="POST", key=sk.FAL_KEY_OK, times=1))
    started = time.time()
    run = genctl("generate", "a fox", *FAL, "--json", env=sandbox.env())
    assert run.exit_code == 0, run.stderr
    assert time.time() - started < 3  # no waiting out the 5 s hint
    assert json.loads(run.stdout)["key_label"] == "ci-2"
    assert "Warning: fal key ci-1 is rate limited; using ci-2" in run.stderr
    [limited, _] = status_json(genctl, sandbox, {}, "fal")
    assert (limited["state"], limited["code"]) == ("cooling", "rate.limited")
    assert (
        4
        <= time.mktime(time.strptime(limited["until"], "%Y-%m-%dT%H:%M:%SZ"))
        - time.mktime(time.gmtime(started))
        <= 7
    )
    # While it cools down the rotation passes it by.
    run = genctl("generate", "a fox", *FAL, "--json", env=sandbox.env())
    assert json.loads(run.stdout)["key_label"] == "ci-2"
    assert (submits(sandbox, sk.FAL_KEY_OK), submits(sandbox, sk.FAL_KEY_OK_2)) == (1, 2)


def test_429_with_only_keys_of_the_same_account_honours_the_hint(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    config_with(hermetic_env, "fal", (sk.FAL_KEY_OK, "ci-1", "acme"), (sk.FAL_KEY_ADMIN, "ci-2", "acme"))
    sandbox.inject(Fault.rate_limited("fal.queue", retry_after=0, method="POST", key=sk.FAL_KEY_OK, times=1))
    run = genctl("generate", "a fox", *FAL, "--json", env=sandbox.env())
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["key_label"] == "ci-1"
    assert "retrying in 0.0 s" in run.stderr
    assert (submits(sandbox, sk.FAL_KEY_OK), submits(sandbox, sk.FAL_KEY_ADMIN)) == (2, 0)


# Answers of the submit itself (not genctl's pre-flight check): a 404, a 422, a content-policy refusal.
FAL_404 = Fault.http(404, {"detail": "Application 'flux-dev' not found"}, provider="fal.queue", method="POST")
FAL_422 = Fault.http(
    422,
    {"detail": [{"loc": ["body", "num_images"], "msg": "Input should be <= 4", "type": "less_than_equal"}]},
    provider="fal.queue",
    method="POST",
)
FAL_POLICY = Fault.http(
    422,
    {"detail": [{"loc": ["body", "prompt"], "msg": "refused", "type": "content_policy_violation"}]},
    provider="fal.queue",
    method="POST",
)


@pytest.mark.parametrize(
    ("fault", "prompt", "exit_code", "code"),
    [
        (FAL_404, "a fox", 4, "model.not_found"),
        (FAL_422, "a fox", 5, "payload.invalid"),
        (FAL_POLICY, "a fox", 5, "content.policy"),
        (None, "[sandbox:nsfw] a fox", 5, "content.policy"),  # refused after the job was accepted
        (None, "[sandbox:fail] a fox", 1, "generation.failed"),  # the model's own failure
    ],
)
def test_no_rotation_on_errors_that_are_not_about_the_key(
    genctl, sandbox: Sandbox, fault: Fault | None, prompt: str, exit_code: int, code: str
) -> None:
    if fault is not None:
        sandbox.inject(fault)
    env = {**sandbox.env(), "FAL_KEY": f"{sk.FAL_KEY_OK},{sk.FAL_KEY_OK_2}"}
    run = genctl("generate", prompt, *FAL, "--json", env=env)
    assert run.exit_code == exit_code, run.stderr
    assert json.loads(run.stdout)["error"]["code"] == code
    assert (submits(sandbox, sk.FAL_KEY_OK), submits(sandbox, sk.FAL_KEY_OK_2)) == (1, 0)
    assert "Warning: fal key" not in run.stderr
    keys = status_json(genctl, sandbox, {"FAL_KEY": f"{sk.FAL_KEY_OK},{sk.FAL_KEY_OK_2}"}, "fal")
    assert [k["state"] for k in keys] == ["usable", "usable"]


@pytest.mark.parametrize(
    ("status", "body", "exit_code"),
    [
        (404, {"detail": "The requested resource could not be found.", "status": 404}, 4),
        (
            422,
            {
                "title": "Input validation failed",
                "detail": "- input.num_inference_steps: Must be less than or equal to 4",
                "status": 422,
                "invalid_fields": [
                    {"type": "number_lte", "field": "input.num_inference_steps", "description": "<= 4"}
                ],
            },
            5,
        ),
    ],
)
def test_replicate_404_and_422_are_not_rotated(
    genctl, sandbox: Sandbox, status: int, body: dict, exit_code: int
) -> None:
    sandbox.inject(
        Fault.http(status, body, provider="replicate", method="POST", content_type="application/problem+json")
    )
    tokens = f"{sk.REPLICATE_TOKEN_OK},{sk.REPLICATE_TOKEN_OK_2}"
    run = genctl(
        "generate", "a fox", *REPLICATE, "--json", env={**sandbox.env(), "REPLICATE_API_TOKEN": tokens}
    )
    assert run.exit_code == exit_code, run.stderr
    assert (submits(sandbox, sk.REPLICATE_TOKEN_OK), submits(sandbox, sk.REPLICATE_TOKEN_OK_2)) == (1, 0)


def test_an_upload_rejected_for_a_locked_account_fails_over(
    genctl, sandbox: Sandbox, tmp_path: Path, hermetic_env: Path
) -> None:
    cat = tmp_path / "cat.png"
    cat.write_bytes(PNG + b"\x00" * 2000)
    hermetic_env.mkdir(parents=True)
    (hermetic_env / "config.toml").write_text("[defaults]\nupload_threshold = 100\n")
    env = {**sandbox.env(), "FAL_KEY": f"{sk.FAL_KEY_LOCKED_BALANCE},{sk.FAL_KEY_OK}"}
    args = ("generate", "make it blue", "-m", "fal-ai/flux/dev/image-to-image", "-i", f"image_url={cat}")
    run = genctl(*args, "--json", env=env)
    assert run.exit_code == 0, run.stderr
    assert "fal key env:FAL_KEY failed (key.locked); using env:FAL_KEY#2" in run.stderr
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None and job.input["image_url"].startswith(sandbox.url)
    assert submits(sandbox, sk.FAL_KEY_LOCKED_BALANCE) == 0  # it never got past the upload


def test_every_key_failed_lists_each_with_why_and_since_when(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": f"{sk.FAL_KEY_UNKNOWN},{sk.FAL_KEY_LOCKED_ADMIN}"}
    run = genctl("generate", "a fox", *FAL, "--json", env=env)
    assert run.exit_code == 3
    err = json.loads(run.stdout)["error"]
    assert (err["code"], err["http_status"]) == ("key.locked", 403)
    lines = err["message"].splitlines()
    assert lines[0] == "Every fal key (2) has failed:"
    assert lines[1].startswith("  env:FAL_KEY (0000…00e1): failed (key.invalid) since ")
    assert "No user found for Key ID and Secret" in lines[1]
    assert lines[2].startswith("  env:FAL_KEY#2 (0000…00e3): failed (key.locked) since ")
    assert "support@fal.ai" in err["fix"] and "genctl keys status --check" in err["fix"]
    assert "Error [key.locked]: Every fal key (2) has failed:" in run.stderr
    # The next run does not knock on the same doors again: it explains at once.
    before = len(sandbox.requests)
    run = genctl("generate", "a fox", *FAL, env=env)
    assert run.exit_code == 3
    assert len(sandbox.requests) == before
    assert "will be tried again at" in run.stderr and "Fix: " in run.stderr and "Traceback" not in run.stderr


def mark_failed(key: str, *, seconds_ago: float) -> None:
    """Mark a fal env key failed as if it had happened `seconds_ago` (the state's clock is injectable)."""
    secret = Key(provider="fal", label="env:FAL_KEY", source="FAL_KEY", _secret=key)
    store = KeyStore(clock=lambda: time.time() - seconds_ago)
    KeyPool("fal", [secret], store=store).fail(secret, error("key.invalid", "no user found", provider="fal"))


@pytest.mark.parametrize(
    ("seconds_ago", "cooldown", "usable"), [(599, None, False), (601, None, True), (61, "60", True)]
)
def test_a_failed_key_recovers_after_the_cooldown(
    genctl, sandbox: Sandbox, seconds_ago: float, cooldown: str | None, usable: bool
) -> None:
    mark_failed(sk.FAL_KEY_OK, seconds_ago=seconds_ago)
    env = {
        **sandbox.env(),
        "FAL_KEY": sk.FAL_KEY_OK,
        **({"GENCTL_KEY_COOLDOWN": cooldown} if cooldown else {}),
    }
    run = genctl("generate", "a fox", *FAL, env=env)
    assert run.exit_code == (0 if usable else 3), run.stderr
    assert submits(sandbox, sk.FAL_KEY_OK) == (1 if usable else 0)


def test_a_successful_check_puts_a_failed_key_back_at_once(genctl, sandbox: Sandbox) -> None:
    mark_failed(sk.FAL_KEY_OK, seconds_ago=0)
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK}
    assert genctl("keys", "status", env=env).exit_code == 3
    run = genctl("keys", "status", "--check", env=env)
    assert run.exit_code == 0, run.stderr
    assert "fal: 1 key, 1 usable, next: env:FAL_KEY" in run.stdout
    assert genctl("generate", "a fox", *FAL, env=env).exit_code == 0


def test_generation_runs_and_says_so_when_the_state_cannot_be_saved(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    hermetic_env.mkdir(parents=True)
    (hermetic_env / "state").write_text("not a folder")
    run = genctl("generate", "a fox", *FAL, env={**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK})
    assert run.exit_code == 0, run.stderr
    assert f"Warning: cannot write the key state in {hermetic_env / 'state'}" in run.stderr
    assert "set GENCTL_HOME to a writable folder" in run.stderr
