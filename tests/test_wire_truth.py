"""A wrong fal endpoint path, end to end, as the real queue answers it (fal-api.md §2.2, corrected in turn 2):
the submit is accepted, the job completes at once, and only the result says `Path /deb not found` with
`x-fal-billable-units: 0`. Every command names it model.not_found with the ranked did-you-mean — never
output.expired — and says nothing was charged."""

from __future__ import annotations

import json
from pathlib import Path

from genctl.sandbox import Sandbox
from tests.support import fal_env

WRONG = "fal-ai/flux/deb"
MESSAGE = (
    "Error [model.not_found]: fal has no endpoint 'fal-ai/flux/deb': the app exists but has no path /deb "
    "(Path /deb not found). Nothing was charged."
)


def test_generate_names_the_wrong_path_with_did_you_mean(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "-m", WRONG, env=fal_env(sandbox))
    assert run.exit_code == 4
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert MESSAGE in lines
    assert "Fix: Did you mean fal-ai/flux/dev? Search: genctl models flux deb" in lines
    # The queue accepted it: one submit, its result read once; nothing was retried or cancelled.
    assert sandbox.count(r"/fal-ai/flux/deb$") == 1 and sandbox.cancels == []


def test_generate_json_carries_the_suggestion_and_the_request_id(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", "-m", WRONG, "--json", env=fal_env(sandbox))
    body = json.loads(run.stdout)
    err = body["error"]
    assert (body["ok"], err["code"], err["http_status"]) == (False, "model.not_found", 404)
    assert err["request_id"]
    assert err["details"]["suggestions"][0] == {"provider": "fal", "id": "fal-ai/flux/dev"}
    assert err["details"]["endpoint_id"] == WRONG


def test_result_of_the_job_is_the_same_finding_not_expired(genctl, sandbox: Sandbox) -> None:
    first = genctl("generate", "a fox", "-m", WRONG, "--json", env=fal_env(sandbox))
    request_id = json.loads(first.stdout)["error"]["request_id"]
    run = genctl("result", request_id, env=fal_env(sandbox))
    assert run.exit_code == 4
    assert MESSAGE in run.stderr.splitlines()
    assert "Fix: Did you mean fal-ai/flux/dev? Search: genctl models flux deb" in run.stderr.splitlines()
    assert "output.expired" not in run.stderr


def test_batch_items_say_it_with_the_fix(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    batch = tmp_path / "b.txt"
    batch.write_text("a fox\n")
    run = genctl("generate", "--batch", str(batch), "-m", WRONG, env=fal_env(sandbox))
    assert run.exit_code == 1
    [warning] = [line for line in run.stderr.splitlines() if line.startswith("Warning: item 1")]
    assert "failed [model.not_found]" in warning
    assert warning.endswith(
        "Nothing was charged. Fix: Did you mean fal-ai/flux/dev? Search: genctl models flux deb"
    )


def test_doctor_keeps_the_catalogue_suggestion(genctl, sandbox: Sandbox) -> None:
    run = genctl("doctor", "-m", WRONG, "--json", env=fal_env(sandbox))
    [check] = [c for c in json.loads(run.stdout)["checks"] if c["id"] == f"models.fal.{WRONG}"]
    assert check["code"] == "model.not_found"
    assert check["fix"].startswith("Did you mean fal-ai/flux/dev?")
    assert "possibly a private endpoint" in check["message"]  # a possibility, never a finding
