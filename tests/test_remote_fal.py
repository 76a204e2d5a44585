"""fal requests genctl never recorded: `genctl result ID -m ENDPOINT` adopts one, against the sandbox."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator

import httpx
import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox.keys import FAL_KEY_OK, FAL_KEY_OK_2, FAL_KEY_UNKNOWN
from tests.support import fal_env

MODEL = "fal-ai/flux/dev"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One client for the module: each new one builds an SSL context (~0.1 s), loopback or not."""
    with httpx.Client(timeout=10) as shared:
        yield shared


@pytest.fixture
def made_elsewhere(sandbox: Sandbox, client: httpx.Client) -> Callable[..., str]:
    """Submits a fal request behind genctl's back (another tool, a teammate, a crash before the id)."""

    def submit(key: str = FAL_KEY_OK, prompt: str = "made elsewhere", model: str = MODEL) -> str:
        response = client.post(
            f"{sandbox.url}/fal/queue/{model}",
            json={"prompt": prompt},
            headers={"Authorization": f"Key {key}"},
        )
        return str(response.json()["request_id"])

    return submit


def test_result_with_the_endpoint_adopts_and_saves_a_fal_request(
    genctl, sandbox: Sandbox, made_elsewhere, tmp_path
) -> None:
    rid = made_elsewhere(prompt="a heron at dawn")
    run = genctl("result", rid, "-m", MODEL, "--json", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert (doc["ok"], doc["status"], doc["request_id"], doc["key_label"]) == (
        True,
        "succeeded",
        rid,
        "env:FAL_KEY",
    )
    [output] = doc["outputs"]
    assert output["downloaded"] is True and (tmp_path / output["path"]).read_bytes()[:4] == b"\x89PNG"
    [job] = json.loads(genctl("history", "--json", env=fal_env(sandbox)).stdout)["jobs"]
    assert (job["request_id"], job["model"], job["prompt"]) == (rid, MODEL, "a heron at dawn")
    assert job["params"] == {"prompt": "a heron at dawn"}  # the listing's json_input (expand=payloads)


def test_the_account_that_lists_the_request_is_the_key_recorded(
    genctl, sandbox: Sandbox, made_elsewhere
) -> None:
    rid = made_elsewhere(key=FAL_KEY_OK_2)  # the second key's account (another team)
    run = genctl("result", rid, "-m", MODEL, "--json", env=fal_env(sandbox, f"{FAL_KEY_OK},{FAL_KEY_OK_2}"))
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["key_label"] == "env:FAL_KEY#2"
    lookups = sandbox.count(path_regex=r"/models/requests/by-endpoint$")
    assert lookups == 2  # the first account's list did not have it; the second's did


def test_a_listing_that_refuses_the_key_falls_back_to_the_queue(
    genctl, sandbox: Sandbox, made_elsewhere
) -> None:
    rid = made_elsewhere()
    body = {"error": {"type": "authorization_error", "message": "Access denied"}}
    sandbox.inject(Fault(provider="fal.api", path=r"/models/requests/by-endpoint$", status=403, body=body))
    run = genctl("result", rid, "-m", MODEL, "--json", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "succeeded"
    [job] = json.loads(genctl("history", "--json", env=fal_env(sandbox)).stdout)["jobs"]
    assert (job["request_id"], job["prompt"], job["params"]) == (rid, None, {})  # the queue has no input


def test_a_key_the_queue_refuses_is_said_only_when_no_other_key_has_it(
    genctl, sandbox: Sandbox, made_elsewhere
) -> None:
    rid = made_elsewhere()
    body = {"error": {"type": "authorization_error", "message": "Access denied"}}
    sandbox.inject(Fault(provider="fal.api", path=r"/models/requests/by-endpoint$", status=403, body=body))
    both = genctl(
        "result", rid, "-m", MODEL, "--json", env=fal_env(sandbox, f"{FAL_KEY_UNKNOWN},{FAL_KEY_OK}")
    )
    assert (both.exit_code, json.loads(both.stdout)["key_label"]) == (0, "env:FAL_KEY#2")
    alone = genctl("result", made_elsewhere(), "-m", MODEL, "--json", env=fal_env(sandbox, FAL_KEY_UNKNOWN))
    assert (alone.exit_code, json.loads(alone.stdout)["error"]["code"]) == (3, "key.invalid")


def test_an_id_no_fal_account_has_is_a_usage_error(genctl, sandbox: Sandbox, tmp_path) -> None:
    rid = "00000000-0000-4000-8000-00000000dead"
    run = genctl("result", rid, "-m", MODEL, env=fal_env(sandbox))
    assert run.exit_code == 2
    db = tmp_path / "genctl-home" / "state" / "history.db"
    assert run.stderr.splitlines() == [
        f"Error [usage.invalid]: No job '{rid}' in the history ({db}), and no configured fal key's account "
        f"has request {rid} on {MODEL}.",
        f"Fix: Check the id and the endpoint: `genctl history --remote fal -m {MODEL}` lists its recent "
        "requests (fal keeps a result 1 hour after the job completes, only 6 minutes when it is 10 KB or "
        "more).",
    ]


def test_a_wrong_endpoint_says_so(genctl, sandbox: Sandbox, made_elsewhere) -> None:
    rid = made_elsewhere()
    run = genctl("result", rid, "-m", "fal-ai/flux-dev", "--json", env=fal_env(sandbox))
    assert run.exit_code == 4
    assert json.loads(run.stdout)["error"]["code"] == "model.not_found"


def test_an_alias_stands_for_its_fal_endpoint(genctl, sandbox: Sandbox, made_elsewhere) -> None:
    rid = made_elsewhere(model="fal-ai/flux/schnell")
    listed = genctl("history", "--remote", "fal", "-m", "flux-schnell", "--json", env=fal_env(sandbox))
    assert [r["request_id"] for r in json.loads(listed.stdout)["requests"]] == [rid]
    run = genctl("result", rid, "-m", "flux-schnell", "--json", env=fal_env(sandbox))
    assert (run.exit_code, json.loads(run.stdout)["model"]) == (0, "fal-ai/flux/schnell")


def test_a_malformed_endpoint_is_refused_before_anything_is_sent(genctl, sandbox: Sandbox) -> None:
    run = genctl("result", "00000000-0000-4000-8000-00000000dead", "-m", "flux", env=fal_env(sandbox))
    assert (run.exit_code, run.stderr.splitlines()) == (
        4,
        [
            "Error [model.not_found]: 'flux' is not a fal endpoint id.",
            "Fix: fal ids look like owner/app[/path], e.g. fal-ai/flux/dev.",
        ],
    )
    assert sandbox.requests == []


def test_without_the_endpoint_the_fix_asks_for_it(genctl, sandbox: Sandbox, made_elsewhere, tmp_path) -> None:
    rid = made_elsewhere()
    run = genctl("result", rid, env=fal_env(sandbox))
    assert run.exit_code == 2
    db = tmp_path / "genctl-home" / "state" / "history.db"
    assert run.stderr.splitlines() == [
        f"Error [usage.invalid]: No job '{rid}' in the history ({db}).",
        "Fix: `genctl history` lists the recorded jobs (not those run with --no-history or [history] enabled "
        "= false); a fal request genctl never recorded needs its endpoint: `genctl result ID -m ENDPOINT` "
        "(`genctl history --remote fal` lists them with theirs).",
    ]


def test_remote_fal_without_a_model_lists_every_endpoint(genctl, sandbox: Sandbox, made_elsewhere) -> None:
    first = made_elsewhere()
    second = made_elsewhere(model="fal-ai/flux/schnell")
    run = genctl("history", "--remote", "fal", "--json", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert [(r["request_id"], r["model"], r["recorded"]) for r in doc["requests"]] == [
        (second, "fal-ai/flux/schnell", False),
        (first, MODEL, False),
    ]
    assert sandbox.count(path_regex=r"/models/requests/search$") == 1  # fal's one cross-endpoint list
    assert sandbox.count(path_regex=r"/by-endpoint$") == 0


def test_remote_fal_with_a_model_lists_that_endpoint_only(genctl, sandbox: Sandbox, made_elsewhere) -> None:
    mine = made_elsewhere()
    made_elsewhere(model="fal-ai/flux/schnell")
    run = genctl("history", "--remote", "fal", "-m", MODEL, "--json", env=fal_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert [r["request_id"] for r in json.loads(run.stdout)["requests"]] == [mine]


def _queries(sandbox: Sandbox, path: str) -> list[dict[str, list[str]]]:
    return [urllib.parse.parse_qs(r.query) for r in sandbox.requests if r.path.endswith(path)]


def _backdate(sandbox: Sandbox, request_id: str, days: float) -> None:
    job = sandbox.job(request_id)
    assert job is not None
    job.created -= days * 86400


def test_since_goes_to_by_endpoint_as_start_and_reaches_past_its_24_hours(
    genctl, sandbox: Sandbox, made_elsewhere
) -> None:
    old, new = made_elsewhere(), made_elsewhere()
    _backdate(sandbox, old, 3)
    env = fal_env(sandbox)
    plain = genctl("history", "--remote", "fal", "-m", MODEL, "--json", env=env)
    assert [r["request_id"] for r in json.loads(plain.stdout)["requests"]] == [new]  # fal's default: 24 h
    week = genctl("history", "--remote", "fal", "-m", MODEL, "--since", "7d", "--json", env=env)
    assert [r["request_id"] for r in json.loads(week.stdout)["requests"]] == [new, old]
    [_, asked] = _queries(sandbox, "/by-endpoint")
    assert list(asked) == ["endpoint_id", "limit", "start"] and asked["limit"] == ["20"]


def test_since_filters_the_search_on_genctls_side(genctl, sandbox: Sandbox, made_elsewhere) -> None:
    old, new = made_elsewhere(), made_elsewhere(model="fal-ai/flux/schnell")
    _backdate(sandbox, old, 3)
    run = genctl("history", "--remote", "fal", "--since", "1d", "--json", env=fal_env(sandbox))
    assert [r["request_id"] for r in json.loads(run.stdout)["requests"]] == [new]
    assert [list(q) for q in _queries(sandbox, "/search")] == [["limit"]]  # search has no time filter


def test_limit_caps_the_rows_and_the_page_size(genctl, sandbox: Sandbox, made_elsewhere) -> None:
    made = [made_elsewhere() for _ in range(3)]
    run = genctl("history", "--remote", "fal", "-m", MODEL, "-n", "2", "--json", env=fal_env(sandbox))
    assert [r["request_id"] for r in json.loads(run.stdout)["requests"]] == made[:0:-1]
    assert [q["limit"] for q in _queries(sandbox, "/by-endpoint")] == [["2"]]  # one page, as big as asked


def test_an_empty_window_says_so(genctl, sandbox: Sandbox, made_elsewhere) -> None:
    _backdate(sandbox, made_elsewhere(), 3)
    run = genctl("history", "--remote", "fal", "--since", "2h", env=fal_env(sandbox))
    assert (run.exit_code, run.stdout, run.stderr) == (0, "", "No recent fal requests since 2h.\n")


DENIED = {"error": {"type": "authorization_error", "message": "Access denied"}}  # the spec's 403 example
ADMIN_FIX = (
    "fal may list an account's requests only to an ADMIN key: create one at https://fal.ai/dashboard/keys "
    "(scope ADMIN) and add it (`genctl keys add fal`)."
)


def test_a_listing_refused_with_403_is_a_scope_finding_with_the_admin_fix(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault(provider="fal.api", path=r"/models/requests/search$", status=403, body=DENIED))
    run = genctl("history", "--remote", "fal", env=fal_env(sandbox))
    assert (run.exit_code, run.stdout) == (3, "")
    assert run.stderr.splitlines() == [
        "Error [key.scope]: fal refused key env:FAL_KEY (0000…0001) for this call (HTTP 403): Access denied",
        f"Fix: {ADMIN_FIX}",
    ]


def test_a_key_the_listing_refuses_does_not_stop_the_others(genctl, sandbox: Sandbox, made_elsewhere) -> None:
    theirs = made_elsewhere(key=FAL_KEY_OK_2)
    sandbox.inject(Fault(provider="fal.api", path=r"/by-endpoint$", key=FAL_KEY_OK, status=403, body=DENIED))
    env = fal_env(sandbox, f"{FAL_KEY_OK},{FAL_KEY_OK_2}")
    run = genctl("history", "--remote", "fal", "-m", MODEL, "--json", env=env)
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert [(r["request_id"], r["key"]) for r in doc["requests"]] == [(theirs, "env:FAL_KEY#2")]
    [problem] = doc["key_errors"]
    assert (problem["key"], problem["code"], problem["http_status"], problem["fix"]) == (
        "env:FAL_KEY",
        "key.scope",
        403,
        ADMIN_FIX,
    )
    text = genctl("history", "--remote", "fal", "-m", MODEL, env=env)
    assert text.stderr.splitlines() == [
        "Key env:FAL_KEY: fal refused key env:FAL_KEY (0000…0001) for this call (HTTP 403): Access denied "
        f"Fix: {ADMIN_FIX}"
    ]


def test_a_listing_url_names_no_request_id() -> None:
    from genctl.providers.fal_wire import request_id_of

    def answer(url: str) -> httpx.Response:
        return httpx.Response(403, request=httpx.Request("GET", url))

    assert request_id_of(answer("https://api.fal.ai/v1/models/requests/search?limit=10")) is None
    assert request_id_of(answer("https://api.fal.ai/v1/models/requests/by-endpoint")) is None
    queue = "https://queue.fal.run/fal-ai/flux/requests/3f7c/status"
    assert request_id_of(answer(queue)) == "3f7c"
