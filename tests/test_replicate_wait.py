"""Replicate `Prefer: wait` (#13): the create is held until the prediction ends (at most 60 s, never past
the deadline); a terminal held answer needs no poll, a `processing` one (even with its output filled, as
the recordings show) is followed until it ends. Ctrl-C while it is held leaves a findable submit."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from replay import Replay, load

from genctl import deadline as limits
from genctl.history import History
from genctl.http import make_client
from genctl.providers.replicate import ReplicateProvider, held_seconds
from genctl.runner import run_generation
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from genctl.values import Key
from tests.support import PNG, FakeTime, replicate_env

SCHNELL = "black-forest-labs/flux-schnell"
REP = ("-m", SCHNELL)
KEY = Key(provider="replicate", label="test", source="test", _secret=sk.REPLICATE_TOKEN_OK)
POLL = r"/replicate/v1/predictions/[^/]+$"


@pytest.fixture
def seen() -> Iterator[tuple[httpx.Client, list[httpx.Request]]]:
    """A real client whose every outgoing request is kept, headers included."""
    requests: list[httpx.Request] = []
    with make_client(timeout=10, connect_timeout=5) as client:
        client.event_hooks["request"].append(requests.append)
        yield client, requests


def prefer(requests: list[httpx.Request]) -> list[str | None]:
    return [r.headers.get("Prefer") for r in requests if r.method == "POST"]


@pytest.mark.parametrize(
    ("wait", "sent"), [(None, None), (0.9, None), (1.0, 1), (4.7, 4), (60, 60), (1e9, 60)]
)
def test_the_held_seconds_are_whole_and_within_the_servers_range(
    wait: float | None, sent: int | None
) -> None:
    assert held_seconds(wait) == sent


def test_a_terminal_held_answer_needs_no_poll(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *REP, "-o", "out", env=replicate_env(sandbox))
    assert run.exit_code == 0, run.stderr
    [path] = run.lines
    assert Path(path).read_bytes().startswith(PNG)
    # Without the hold the sandbox answers `starting` and a poll must follow; held, the create is the answer.
    assert sandbox.count(POLL, method="GET") == 0
    assert [row.status for row in History().recent()] == ["succeeded"]


def test_a_processing_answer_with_output_is_followed_to_its_end(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "[sandbox:early_output] a fox", *REP, "-o", "out", env=replicate_env(sandbox))
    assert run.exit_code == 0, run.stderr
    [path] = run.lines
    assert Path(path).read_bytes().startswith(PNG)
    assert sandbox.count(POLL, method="GET") == 1  # `processing` is not done: one poll says `succeeded`


def test_no_wait_holds_nothing(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "a fox", *REP, "--no-wait", "--json", env=replicate_env(sandbox))
    assert run.exit_code == 0, run.stderr
    [row] = History().recent()
    assert row.status == "submitted"  # answered at once, `starting`: nothing was held


def test_the_hold_never_outlasts_the_deadline(sandbox: Sandbox, seen) -> None:  # type: ignore[no-untyped-def]
    client, requests = seen
    provider = ReplicateProvider(api_url=sandbox.env()["GENCTL_REPLICATE_API_URL"])
    t = FakeTime()

    def one(deadline: float | None) -> None:
        run_generation(
            provider=provider,
            client=client,
            model=SCHNELL,
            params={"prompt": "a fox"},
            key=KEY,
            deadline=deadline,
            hold=60,
            clock=t.clock,
            sleep=t.sleep,
        )

    one(None)
    one(3.0)  # the runner's own deadline, on its clock
    one(0.5)  # under a second: nothing to hold, answered at once and polled
    with limits.limit(7.9, "the command's 7.9 s", command=True):
        one(None)  # the command's --timeout (wall clock): the whole seconds left, 7
    assert prefer(requests) == ["wait=60", "wait=3", None, "wait=7"]


def test_the_recorded_blocking_answer_is_followed_by_the_runner() -> None:
    """The recorded `Prefer: wait=10` create (201 `processing`, output already filled), sent by the runner's
    own hold; the poll's answer is SYNTHETIC: the recorded body with `status: succeeded`."""
    (create,) = load("test_models_predictions_create_blocking[True-10].yaml")
    body = create.json()

    def poll(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == body["urls"]["get"]
        return httpx.Response(200, json={**body, "status": "succeeded"}, request=request)

    server = Replay([create], extra=poll)
    t = FakeTime()
    with make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(server)) as http:
        job, result = run_generation(
            provider=ReplicateProvider(api_url="https://api.replicate.com/v1"),
            client=http,
            model="meta/meta-llama-3-8b-instruct",
            params={"prompt": "Please write a haiku about llamas"},
            key=KEY,
            hold=10,
            clock=t.clock,
            sleep=t.sleep,
        )
    assert job.request_id == body["id"] and server.left() == []
    [sent, polled] = server.requests
    assert sent.headers["Prefer"] == "wait=10"  # what the recording sent
    assert polled.method == "GET" and result.outputs[0].value == body["output"]


def interrupt_when_created(sandbox: Sandbox, then: Fault | None) -> tuple[threading.Thread, threading.Event]:
    """A thread that sends this process a real SIGINT (as Ctrl-C does) once the sandbox holds a prediction,
    injecting the fault `then` just before."""
    listing = f"{sandbox.url}/replicate/v1/predictions"
    auth = {"Authorization": f"Bearer {sk.REPLICATE_TOKEN_OK}"}
    stop = threading.Event()
    main = threading.main_thread().ident
    assert main is not None

    def watch() -> None:
        while not stop.wait(0.02):
            if httpx.get(listing, headers=auth).json()["results"]:
                if then is not None:
                    sandbox.inject(then)
                signal.pthread_kill(main, signal.SIGINT)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher, stop


def interrupted_run(genctl, sandbox: Sandbox, then: Fault | None = None) -> object:  # type: ignore[no-untyped-def]
    watcher, stop = interrupt_when_created(sandbox, then)
    try:
        return genctl(
            "generate", "[sandbox:latency=5] a fox", *REP, "--no-validate", env=replicate_env(sandbox)
        )
    finally:
        stop.set()
        watcher.join()


def test_ctrl_c_while_the_create_is_held_finds_the_job_and_cancels_it(genctl, sandbox: Sandbox) -> None:
    run = interrupted_run(genctl, sandbox)
    [job] = History().recent()
    assert run.exit_code == 130  # type: ignore[attr-defined]
    assert run.stderr.splitlines()[-3:] == [  # type: ignore[attr-defined]
        f"Error [interrupted]: Interrupted while submitting; the remote job was cancelled (request "
        f"{job.request_id}).",
        f"Request id: {job.request_id}",
        "Fix: Run the command again to start a new generation.",
    ]
    assert (job.status, job.error_code) == ("failed", "interrupted")
    assert [c.request_id for c in sandbox.cancels] == [job.request_id]


def test_ctrl_c_while_held_when_the_job_cannot_be_found_names_the_command(genctl, sandbox: Sandbox) -> None:
    # The listing fails (every try): the job cannot be found to cancel it, so the row stays for later.
    run = interrupted_run(
        genctl, sandbox, Fault.unavailable("replicate", 503, method="GET", path=r"/v1/predictions$")
    )
    assert run.exit_code == 130  # type: ignore[attr-defined]
    assert run.stderr.splitlines()[-2:] == [  # type: ignore[attr-defined]
        "Error [interrupted]: Interrupted while submitting: the job may exist at the provider (the submit "
        "was sent, its answer with the job id never arrived, so nothing could be cancelled).",
        "Fix: `genctl result --pending` finds the job in replicate's recent requests and saves its outputs; "
        "do not run it again before, or it may be paid for twice.",
    ]
    assert [row.status for row in History().recent()] == ["unconfirmed"]
    assert sandbox.cancels == []
