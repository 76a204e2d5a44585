"""`genctl usage` (issue #15): genctl's record of what jobs cost next to fal's billing events (ADMIN key),
where they disagree, a clear line (exit 0) for a key that cannot read them, and Replicate's lack of a view."""

from __future__ import annotations

import json

from genctl.history import History
from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_ADMIN, FAL_KEY_OK
from tests.support import fal_env, replicate_env

DEV = ("-m", "fal-ai/flux/dev")  # sandbox: $0.025 per image


def two_jobs(genctl, sandbox: Sandbox, key: str) -> dict[str, str]:
    env = fal_env(sandbox, key)
    for n in (1, 2):
        assert genctl("generate", f"fox {n}", *DEV, "-o", "out", env=env).exit_code == 0
    return env


def test_usage_with_an_admin_key_shows_both_views_and_that_they_agree(genctl, sandbox: Sandbox) -> None:
    env = two_jobs(genctl, sandbox, FAL_KEY_ADMIN)
    run = genctl("usage", env=env)
    assert run.exit_code == 0, run.stderr
    assert run.lines == [
        "fal.ai: genctl recorded 2 job(s), $0.05",
        "fal.ai: billed 2 request(s), $0.05 (billing events)",
        "fal.ai: genctl's record and fal.ai's agree",
        "Replicate: genctl recorded 0 job(s), $0",
        "Replicate: Replicate's API offers no usage or billing view",
    ]


def test_usage_says_where_genctl_and_fal_disagree(genctl, sandbox: Sandbox) -> None:
    env = two_jobs(genctl, sandbox, FAL_KEY_ADMIN)
    first = History().recent()[-1]
    History().update("fal", first.request_id, cost=0.5)  # a record that is wrong (a stale price)
    doc = json.loads(genctl("usage", "--json", env=env).stdout)
    fal = doc["providers"][0]["provider_view"]
    assert fal["agrees"] is False
    assert fal["disagree"] == [{"request_id": first.request_id, "genctl": 0.5, "provider": 0.025}]
    text = genctl("usage", env=env).lines
    assert f"fal.ai: {first.request_id} disagrees: genctl $0.5, fal.ai $0.025" in text


def test_usage_lists_billed_requests_genctl_never_recorded(genctl, sandbox: Sandbox) -> None:
    env = fal_env(sandbox, FAL_KEY_ADMIN)
    assert genctl("generate", "fox", *DEV, "-o", "out", "--no-history", env=env).exit_code == 0
    doc = json.loads(genctl("usage", "--json", env=env).stdout)
    fal = doc["providers"][0]
    assert fal["recorded"]["jobs"] == 0
    assert (fal["provider_view"]["requests"], len(fal["provider_view"]["only_provider"])) == (1, 1)
    assert "fal.ai: 1 billed request(s) are not in genctl's history" in genctl("usage", env=env).lines


def test_usage_with_an_api_key_says_it_needs_an_admin_key_and_exits_0(genctl, sandbox: Sandbox) -> None:
    env = two_jobs(genctl, sandbox, FAL_KEY_OK)
    run = genctl("usage", env={**env, **replicate_env(sandbox)})
    assert run.exit_code == 0, run.stderr
    assert run.lines[:2] == [
        "fal.ai: genctl recorded 2 job(s), $0.05",
        "fal.ai: fal.ai's billing view needs an ADMIN key (none of the configured keys is one)",
    ]
    view = json.loads(genctl("usage", "--json", env=env).stdout)["providers"][0]["provider_view"]
    assert (view["available"], view["agrees"], view["amount"]) == (False, None, None)


def test_usage_since_a_bad_value_is_a_usage_error(genctl, sandbox: Sandbox) -> None:
    run = genctl("usage", "--since", "soon", env=fal_env(sandbox, FAL_KEY_ADMIN))
    assert run.exit_code == 2
    assert run.stderr.splitlines()[-1] == "Fix: Use e.g. --since 24h, 7d or 2026-12-01."
    assert sandbox.requests == []
