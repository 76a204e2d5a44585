"""Following a job: fal's status stream over real loopback HTTP (drops, refusals, keep-alives), the poll
schedule and the shared GET budget. Sleeps are injected; no timing is asserted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genctl.errors import GenctlError
from genctl.http import RetryPolicy, make_client
from genctl.providers.fal import FalProvider
from genctl.runner import Event, run_generation
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from genctl.values import Key
from genctl.waiting import GetBudget, PollSchedule, WaitPlan
from tests.support import FakeTime

FLUX = "fal-ai/flux/dev"
STREAM = r"/requests/[^/]+/status/stream$"
POLL = r"/requests/[^/]+/status$"
PLAN = WaitPlan(schedule=PollSchedule(first=0.25, maximum=2.0), stream=True)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with make_client(timeout=10, connect_timeout=5) as client:
        yield client


def fal_of(box: Sandbox) -> FalProvider:
    env = box.env()
    return FalProvider(queue_url=env["GENCTL_FAL_QUEUE_URL"], rest_url=env["GENCTL_FAL_REST_URL"])


def follow(box: Sandbox, http: httpx.Client, prompt: str = "a fox", **kwargs: Any) -> tuple[Any, list[str]]:
    """One generation through the runner; the events it emitted, as `kind message` lines."""
    events: list[Event] = []
    t = kwargs.pop("time", None) or FakeTime()
    kwargs.setdefault("clock", t.clock)
    kwargs.setdefault("sleep", t.sleep)
    _, result = run_generation(
        provider=fal_of(box),
        client=http,
        model=FLUX,
        params={"prompt": prompt},
        key=Key(provider="fal", label="test", source="test", _secret=sk.FAL_KEY_OK),
        on_event=events.append,
        policy=RetryPolicy(jitter=0.0),
        waiting=kwargs.pop("waiting", PLAN),
        **kwargs,
    )
    lines = [f"{e.kind} {e.message}" if e.message else e.kind for e in events]
    return result, lines


WALK = [
    "submitting",
    "submitted",
    "queued #2",
    "queued #1",
    "queued #0",
    "running",
    "log step 1/2",
    "log step 2/2",
    "completed",
]


def test_a_job_is_followed_on_its_stream_alone(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=2, progress_polls=2)
    t = FakeTime()
    result, lines = follow(sandbox, http, time=t)
    assert lines == WALK
    assert result.outputs[0].url
    assert sandbox.count(STREAM, method="GET") == 1
    assert sandbox.count(POLL, method="GET") == 0  # not one poll
    assert t.sleeps == []
    [opened] = [r for r in sandbox.requests if r.path.endswith("/status/stream")]
    assert opened.query == "logs=1"


def test_a_stream_that_drops_mid_job_is_polled_once_then_reopened(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.configure(queue_polls=2, progress_polls=2)
    sandbox.inject(Fault.stream_drop(after_events=2, times=1))
    t = FakeTime()
    result, lines = follow(sandbox, http, time=t)
    assert lines == WALK  # nothing lost, nothing said twice
    assert result.outputs[0].url
    assert sandbox.count(STREAM, method="GET") == 2
    assert sandbox.count(POLL, method="GET") == 1  # at once after the drop: the job may have ended
    assert t.sleeps == []


def test_a_stream_that_keeps_dropping_gives_way_to_polls(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=6, progress_polls=6)
    sandbox.inject(Fault.stream_drop(after_events=1))  # every time
    t = FakeTime()
    result, lines = follow(sandbox, http, time=t)
    assert result.outputs[0].url and lines[-1] == "completed"
    assert [line for line in lines if line.startswith("log")] == [f"log step {i}/6" for i in range(1, 7)]
    assert sandbox.count(STREAM, method="GET") == PLAN.stream_opens
    polls = sandbox.count(POLL, method="GET")
    assert polls > PLAN.stream_opens
    # A poll at once after each drop (each a step of the schedule), then the schedule's pauses.
    assert t.sleeps == [min(2.0, 0.25 * 1.5**i) for i in range(PLAN.stream_opens - 1, polls - 1)]


@pytest.mark.parametrize("status", [404, 405])
def test_a_stream_that_never_opens_falls_back_to_polling(
    sandbox: Sandbox, http: httpx.Client, status: int
) -> None:
    sandbox.configure(queue_polls=2, progress_polls=2)
    sandbox.inject(Fault.stream_refused(status))
    t = FakeTime()
    result, lines = follow(sandbox, http, time=t)
    assert lines == WALK and result.outputs[0].url
    assert sandbox.count(STREAM, method="GET") == 1  # asked once, never again for this job
    assert sandbox.count(POLL, method="GET") == 5
    assert t.sleeps == [0.25, 0.375, 0.5625, 0.84375]  # the first poll at once


def test_a_stream_that_cannot_connect_falls_back_to_polling(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=1)
    sandbox.inject(Fault.drop(provider="fal.queue", path=r"/status/stream$", times=PLAN.stream_opens))
    result, lines = follow(sandbox, http)
    assert result.outputs[0].url and lines[-1] == "completed"
    assert sandbox.count(POLL, method="GET") >= 1


def test_keepalive_comments_are_ignored(sandbox: Sandbox, http: httpx.Client) -> None:
    # The job sits IN_PROGRESS, unchanged, for 0.3 s of wall clock while the stream pings every 10 ms.
    sandbox.configure(status_stream_ping=0.01)
    result, lines = follow(sandbox, http, "[sandbox:latency=0.3] a fox")
    assert result.outputs[0].url
    assert lines == ["submitting", "submitted", "queued #0", "running", "completed"]
    assert sandbox.count(POLL, method="GET") == 0 and sandbox.count(STREAM, method="GET") == 1


def test_a_stream_read_does_not_outlive_the_deadline(sandbox: Sandbox, http: httpx.Client) -> None:
    # A job that never ends, a stream that only pings now and then: the deadline still ends the wait,
    # and the job is cancelled. Real clock: the read timeout is the time left.
    with pytest.raises(GenctlError) as caught:
        follow(sandbox, http, "[sandbox:hang] a fox", deadline=0.5, clock=time.monotonic, sleep=time.sleep)
    assert caught.value.code == "generation.timeout"
    assert caught.value.details["cancel"] == "the remote job was cancelled"
    assert sandbox.count(r"/cancel$", method="PUT") == 1


def test_without_a_plan_the_runner_polls_as_before(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(queue_polls=1)
    t = FakeTime()
    follow(sandbox, http, time=t, waiting=None)
    assert sandbox.count(STREAM, method="GET") == 0 and t.sleeps == [0.25]


# -- the schedule and the budget (pure) ---------------------------------------------------------------


def test_the_schedule_stays_steady_then_backs_off() -> None:
    schedule = PollSchedule(first=0.25, maximum=2.0, steady_for=10.0)
    assert schedule.next(0.0, 0.0) == 0.25
    assert schedule.next(0.25, 9.9) == 0.25
    assert schedule.next(0.25, 10.0) == 0.375
    assert schedule.next(1.9, 30.0) == 2.0


def test_the_get_budget_spaces_gets_past_the_burst() -> None:
    now = [100.0]
    budget = GetBudget(60.0, burst=3, clock=lambda: now[0])  # one a second, three at once
    assert [budget.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]
    now[0] += 10.0  # idle time refills the burst, never more
    assert [budget.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_a_batch_of_waits_stays_within_the_budget() -> None:
    # 32 waits each asking as fast as they can: over one simulated minute no more GETs than the limit.
    now = [0.0]
    budget = GetBudget(3000 * 0.8, clock=lambda: now[0])
    sent = []
    for _ in range(5000):
        now[0] += budget.reserve()
        sent.append(now[0])
    in_first_minute = sum(1 for s in sent if s < 60.0)
    assert in_first_minute <= 2400 + 10


def test_the_product_plan_streams_on_fal_and_budgets_replicate() -> None:
    fal, rep = WaitPlan.for_provider("fal"), WaitPlan.for_provider("replicate")
    assert (fal.stream, fal.budget) == (True, None)
    assert rep.stream is False and rep.budget is not None and rep.budget.spacing == pytest.approx(0.025)
    assert rep.budget is WaitPlan.for_provider("replicate").budget  # one per process, shared
