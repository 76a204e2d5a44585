"""Every data command's --json is one JSON document on stdout with "ok" (DESIGN.md: the public contract),
on success and on failure alike, so a script can branch on `.ok` without parsing text."""

from __future__ import annotations

import json

import pytest

from genctl.sandbox import Sandbox
from tests.support import fal_env, replicate_env

FAL = ["-m", "fal-ai/flux/schnell"]
COMMANDS = [  # (argv, exit code, the "ok" it must carry)
    (["generate", "a fox", *FAL, "--json"], 0, True),
    (["generate", "a fox", *FAL, "--dry-run", "--json"], 0, True),
    (["generate", "a fox", *FAL, "--no-wait", "--json"], 0, True),
    (["generate", "a fox", "-m", "fal-ai/flux-dev", "--json"], 4, False),
    (["models", "--json"], 0, True),
    (["models", "--aliases", "--json"], 0, True),
    (["models", "show", "fal-ai/flux/dev", "--json"], 0, True),
    (["models", "show", "fal-ai/flux-dev", "--json"], 4, False),
    (["keys", "list", "--json"], 0, True),
    (["keys", "status", "--json"], 0, True),
    (["keys", "status", "--check", "--json"], 0, True),
    (["config", "path", "--json"], 0, True),
    (["config", "show", "--json"], 0, True),
    (["history", "--json"], 0, True),
    (["result", "no-such-request", "--json"], 2, False),
]


@pytest.mark.parametrize(
    ("args", "exit_code", "ok"), COMMANDS, ids=[" ".join(a)[:50] for a, _, _ in COMMANDS]
)
def test_every_json_answer_is_one_document_with_ok(
    genctl, sandbox: Sandbox, args: list[str], exit_code: int, ok: bool
) -> None:
    run = genctl(*args, env={**fal_env(sandbox), **replicate_env(sandbox)}, input="")
    assert run.exit_code == exit_code, run.stderr
    document = json.loads(run.stdout)  # one document: a second line or trailing text would fail here
    assert isinstance(document, dict)
    assert document["ok"] is ok
    if not ok:
        assert document["error"]["code"]


def test_dry_run_json_is_the_request_that_would_be_sent(genctl, sandbox: Sandbox) -> None:
    env = fal_env(sandbox)
    run = genctl("generate", "a fox", *FAL, "-p", "seed=7", "--dry-run", "--json", env=env)
    assert run.exit_code == 0, run.stderr
    document = json.loads(run.stdout)
    assert {k: document[k] for k in ("ok", "dry_run", "provider", "model", "method", "body")} == {
        "ok": True,
        "dry_run": True,
        "provider": "fal",
        "model": "fal-ai/flux/schnell",
        "method": "POST",
        "body": {"prompt": "a fox", "seed": 7},
    }
    assert document["url"] == f"{sandbox.url}/fal/queue/fal-ai/flux/schnell"
    assert document["headers"]["Authorization"] == "Key $FAL_KEY"
    assert document["curl"].startswith(f"curl -sS -X POST {sandbox.url}/fal/queue/fal-ai/flux/schnell ")
    assert env["FAL_KEY"] not in run.stdout and env["FAL_KEY"].split(":")[1] not in run.stdout + run.stderr
