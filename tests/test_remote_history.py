"""`genctl history --remote`: the provider's own recent requests, marked with whether genctl recorded them."""

from __future__ import annotations

import json
import urllib.parse

import httpx
import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK
from tests.support import replicate_env

MODEL = "black-forest-labs/flux-schnell"


def _unrecorded(sandbox: Sandbox) -> str:
    """A prediction made behind genctl's back (another tool, or a run killed before it saw the id)."""
    response = httpx.post(
        f"{sandbox.url}/replicate/v1/models/{MODEL}/predictions",
        json={"input": {"prompt": "made elsewhere"}},
        headers={"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"},
        timeout=10,
    )
    return str(response.json()["id"])


def test_remote_lists_what_genctl_never_recorded(genctl, sandbox: Sandbox) -> None:
    env = replicate_env(sandbox)
    made = genctl("generate", "a fox", "-m", MODEL, "--json", env=env)
    assert made.exit_code == 0, made.stderr
    mine, other = json.loads(made.stdout)["request_id"], _unrecorded(sandbox)
    run = genctl("history", "--remote", "replicate", "--json", env=env)
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert (doc["ok"], doc["count"], doc["key_errors"]) == (True, 2, [])
    assert [(r["request_id"], r["recorded"], r["model"]) for r in doc["requests"]] == [
        (other, False, MODEL),
        (mine, True, MODEL),
    ]


def test_remote_text_table_never_cuts_the_id(genctl, sandbox: Sandbox) -> None:
    other = _unrecorded(sandbox)
    run = genctl("history", "--remote", "replicate", env={**replicate_env(sandbox), "COLUMNS": "60"})
    assert run.exit_code == 0, run.stderr
    assert other in run.stdout and "no" in run.stdout


def test_result_saves_a_prediction_genctl_never_recorded(genctl, sandbox: Sandbox, tmp_path) -> None:
    env = replicate_env(sandbox)
    other = _unrecorded(sandbox)
    run = genctl("result", other, "--wait", "--json", env=env)
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    [output] = doc["outputs"]
    assert output["downloaded"] is True and (tmp_path / output["path"]).read_bytes()[:4] == b"\x89PNG"
    again = genctl("history", "--remote", "replicate", "--json", env=env)
    assert [r["recorded"] for r in json.loads(again.stdout)["requests"]] == [True]


def test_result_of_an_id_no_account_has_is_a_usage_error(genctl, sandbox: Sandbox) -> None:
    run = genctl("result", "nosuchprediction", env=replicate_env(sandbox))
    assert run.exit_code == 2
    assert run.stderr.startswith("Error [usage.invalid]: No job 'nosuchprediction' in the history")


def test_since_goes_to_replicate_as_created_after(genctl, sandbox: Sandbox) -> None:
    old, new = _unrecorded(sandbox), _unrecorded(sandbox)
    job = sandbox.job(old)
    assert job is not None
    job.created -= 3 * 86400
    run = genctl("history", "--remote", "replicate", "--since", "1d", "--json", env=replicate_env(sandbox))
    assert [r["request_id"] for r in json.loads(run.stdout)["requests"]] == [new]
    [listed] = [r for r in sandbox.requests if r.path == "/replicate/v1/predictions" and r.method == "GET"]
    assert list(urllib.parse.parse_qs(listed.query)) == ["created_after"]


@pytest.mark.parametrize(
    "args",
    [
        ("history", "--remote", "replicate", "--json"),
        ("result", "00000000-dead-beef-0000-000000000000", "-m", "fal-ai/flux/dev", "--json"),
    ],
)  # each costs the retries of a refused GET (about 4 s): one listing, one look-up
def test_a_provider_that_cannot_be_reached_is_one_line_not_a_traceback(genctl, args: tuple[str, ...]) -> None:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    env = {
        "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK,
        "GENCTL_REPLICATE_API_URL": f"{closed}/replicate",
        "FAL_KEY": FAL_KEY_OK,
        "GENCTL_FAL_API_URL": f"{closed}/fal/api",
        "GENCTL_FAL_QUEUE_URL": f"{closed}/fal/queue",
    }
    run = genctl(*args, env=env)
    assert run.exit_code == 7, run.stderr
    assert "Traceback" not in run.stderr
    error = json.loads(run.stdout)["error"]
    assert error["code"] == "network.connect"
    assert error["message"].startswith("Cannot connect to ")
