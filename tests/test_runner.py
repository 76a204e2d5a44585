"""The runner over httpx.MockTransport: polling, events, failures, deadline, Ctrl-C, retries; never sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from genctl.errors import GenctlError
from genctl.http import RetryPolicy, make_client
from genctl.providers.base import Job
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider
from genctl.runner import Event, cancel, fetch_result, run_generation, submit_only
from genctl.values import Key
from tests.support import FAL_SECRET, FakeTime

REP_SECRET = "r8_Abcdefghijklmnopqrstuvwxyz0123456789Z"
FAL_KEY = Key(provider="fal", label="env:FAL_KEY", source="env", _secret=FAL_SECRET)
REP_KEY = Key(provider="replicate", label="env:REPLICATE_API_TOKEN", source="env", _secret=REP_SECRET)
Q = "https://queue.fal.test"
API = "https://api.replicate.test/v1"
NO_JITTER = RetryPolicy(jitter=0.0)
Handler = Callable[[httpx.Request], httpx.Response]


class Server:
    """Routes (method, path) to scripted answers; a list answers in turn and repeats its last item."""

    def __init__(self, routes: dict[tuple[str, str], Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes[request.method, request.url.path]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(request)
        status, body, *rest = answer
        return httpx.Response(status, json=body, headers=rest[0] if rest else {"x-fal-request-id": "r-1"})

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


def client(server: Handler) -> httpx.Client:
    return make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(server))


SUBMIT = (
    200,
    {
        "request_id": "r-1",
        "status": "IN_QUEUE",
        "queue_position": 2,
        "status_url": f"{Q}/fal-ai/flux/requests/r-1/status",
        "response_url": f"{Q}/fal-ai/flux/requests/r-1",
        "cancel_url": f"{Q}/fal-ai/flux/requests/r-1/cancel",
    },
)
STATUS = ("GET", "/fal-ai/flux/requests/r-1/status")
RESULT = ("GET", "/fal-ai/flux/requests/r-1")
CANCEL = ("PUT", "/fal-ai/flux/requests/r-1/cancel")
IMAGES = {"images": [{"url": "https://v3.fal.media/files/a.png", "content_type": "image/png"}], "seed": 1}


def log(*lines: str) -> list[dict[str, str]]:
    return [{"message": line, "level": "INFO"} for line in lines]


def run_fal(server: Server, t: FakeTime, events: list[Event] | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("policy", NO_JITTER)
    return run_generation(
        provider=FalProvider(queue_url=Q),
        client=client(server),
        model="fal-ai/flux/dev",
        params={"prompt": "a fox"},
        key=FAL_KEY,
        clock=t.clock,
        sleep=t.sleep,
        on_event=events.append if events is not None else None,
        **kwargs,
    )


def test_fal_queue_flow_with_positions_and_logs() -> None:
    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): SUBMIT,
            STATUS: [
                (202, {"status": "IN_QUEUE", "queue_position": 1}),
                (202, {"status": "IN_QUEUE", "queue_position": 1}),
                (202, {"status": "IN_PROGRESS", "logs": log("loading")}),
                (202, {"status": "IN_PROGRESS", "logs": log("loading", "step 1/2")}),
                (200, {"status": "COMPLETED", "logs": log("loading", "step 1/2", "done"), "metrics": {}}),
            ],
            RESULT: (200, IMAGES),
        }
    )
    t, events = FakeTime(100.0), []
    job, result = run_fal(server, t, events)
    assert job.request_id == "r-1" and job.key_label == "env:FAL_KEY"
    assert [o.url for o in result.outputs] == ["https://v3.fal.media/files/a.png"]
    assert result.raw == IMAGES
    assert [(e.kind, e.queue_position, e.message) for e in events] == [
        ("submitting", None, None),  # the paid request goes out
        ("submitted", None, None),
        ("queued", 2, "#2"),
        ("queued", 1, "#1"),
        ("running", None, None),
        ("log", None, "loading"),
        ("log", None, "step 1/2"),
        ("log", None, "done"),
        ("completed", None, None),
    ]
    assert all(e.job == job for e in events[1:])  # "submitting" comes before the job exists
    assert t.sleeps == [0.25, 0.375, 0.5625, 0.84375]  # first poll at once, then backoff
    [submit] = server.calls("POST", "/fal-ai/flux/dev")
    assert submit.headers["Authorization"] == f"Key {FAL_SECRET}"
    assert json.loads(submit.content) == {"prompt": "a fox"}
    assert all(r.url.params["logs"] == "1" for r in server.calls(*STATUS))
    assert not server.calls(*CANCEL)


def test_failed_completed_reads_the_result_error() -> None:
    failed = {"status": "COMPLETED", "error": "validation failed", "error_type": "validation_error"}
    detail = {"detail": [{"loc": ["body", "image_size"], "msg": "unexpected value", "type": "value_error"}]}
    server = Server({("POST", "/fal-ai/flux/dev"): SUBMIT, STATUS: (200, failed), RESULT: (422, detail)})
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0))
    err = caught.value
    assert (err.code, err.exit_code, err.http_status, err.request_id) == ("payload.invalid", 5, 422, "r-1")
    assert "image_size: unexpected value" in err.message


def test_failed_completed_with_2xx_result_uses_the_status() -> None:
    failed = {"status": "COMPLETED", "error": "runner crashed", "error_type": "runner_disconnected"}
    server = Server({("POST", "/fal-ai/flux/dev"): SUBMIT, STATUS: (200, failed), RESULT: (200, {})})
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0))
    # runner_disconnected is fal's infrastructure failing (fal-api.md §2.2): provider-side, retry later.
    assert caught.value.code == "provider.unavailable" and "runner crashed" in caught.value.message


def test_submit_error_is_mapped() -> None:
    server = Server({("POST", "/fal-ai/flux/dev"): (401, {"detail": "No user found for Key ID and Secret"})})
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0))
    assert (caught.value.code, caught.value.request_id) == ("key.invalid", "r-1")


def test_deadline_cancels_and_raises_timeout() -> None:
    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): SUBMIT,
            STATUS: (202, {"status": "IN_PROGRESS", "logs": []}),
            CANCEL: (202, {"status": "CANCELLATION_REQUESTED"}),
        }
    )
    t = FakeTime(100.0)
    with pytest.raises(GenctlError) as caught:
        run_fal(server, t, deadline=3.0)
    err = caught.value
    assert (err.code, err.exit_code, err.request_id) == ("generation.timeout", 7, "r-1")
    assert "r-1" in err.message and "3 s" in err.message and "cancelled" in err.message
    assert "--timeout" in err.fix
    assert len(server.calls(*CANCEL)) == 1
    assert sum(t.sleeps) == pytest.approx(3.0)  # never slept past the deadline


def test_a_deadline_left_over_from_a_fallback_is_rounded_in_the_message() -> None:
    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): SUBMIT,
            STATUS: (202, {"status": "IN_PROGRESS", "logs": []}),
            CANCEL: (202, {"status": "CANCELLATION_REQUESTED"}),
        }
    )
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0), deadline=2.99838)  # what was left of --timeout 5 after a fallback
    assert caught.value.message == (
        "The generation did not finish within 3 s (request r-1); the remote job was cancelled."
    )


def test_deadline_cancel_failure_is_noted_not_raised() -> None:
    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): SUBMIT,
            STATUS: (202, {"status": "IN_QUEUE", "queue_position": 5}),
            CANCEL: httpx.ConnectError("[Errno 111] Connection refused"),
        }
    )
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0), deadline=1.0)
    assert caught.value.code == "generation.timeout"
    assert "cancelling the remote job failed" in caught.value.message


def test_poll_hanging_past_the_deadline_is_a_timeout() -> None:
    t = FakeTime(100.0)
    read_timeouts: list[float] = []

    def hanging(request: httpx.Request) -> httpx.Response:
        read_timeouts.append(request.extensions["timeout"]["read"])
        t.now += 10  # the server sat on the request until the read timeout fired
        raise httpx.ReadTimeout("timed out")

    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): SUBMIT,
            STATUS: hanging,
            CANCEL: (202, {"status": "CANCELLATION_REQUESTED"}),
        }
    )
    with pytest.raises(GenctlError) as caught:
        run_fal(server, t, deadline=3.0)
    assert caught.value.code == "generation.timeout"
    assert getattr(caught.value.__cause__, "code", None) == "network.timeout"
    assert read_timeouts == [3.0]  # only the time left before the deadline, not the client's 5 s
    assert len(server.calls(*CANCEL)) == 1


def test_keyboard_interrupt_after_submit_cancels() -> None:
    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): SUBMIT,
            STATUS: (202, {"status": "IN_QUEUE", "queue_position": 1}),
            CANCEL: (202, {"status": "CANCELLATION_REQUESTED"}),
        }
    )
    t = FakeTime(100.0)
    calls = []

    def interrupting_sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(GenctlError) as caught:
        run_generation(
            provider=FalProvider(queue_url=Q),
            client=client(server),
            model="fal-ai/flux/dev",
            params={},
            key=FAL_KEY,
            clock=t.clock,
            sleep=interrupting_sleep,
        )
    err = caught.value
    assert (err.code, err.exit_code, err.request_id) == ("interrupted", 130, "r-1")
    assert "cancelled" in err.message and "r-1" in err.message
    assert isinstance(err.__cause__, KeyboardInterrupt)
    assert len(server.calls(*CANCEL)) == 1


def test_keyboard_interrupt_before_submit_sends_no_cancel() -> None:
    server = Server({("POST", "/fal-ai/flux/dev"): KeyboardInterrupt(), CANCEL: (202, {})})
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0))
    assert (caught.value.code, caught.value.request_id) == ("interrupted", None)
    assert not server.calls(*CANCEL)


def test_status_retries_honour_hints_and_emit_events() -> None:
    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): SUBMIT,
            STATUS: [
                (503, {"detail": "busy"}, {"Retry-After": "4"}),
                (429, {"detail": "slow", "retry_after": 2}),
                (429, {"detail": "Your rate limit resets in ~5s."}),
                (200, {"status": "COMPLETED"}),
            ],
            RESULT: (200, IMAGES),
        }
    )
    t, events = FakeTime(100.0), []
    run_fal(server, t, events)
    assert t.sleeps == [4.0, 2.0, 5.0]
    retries = [e.message for e in events if e.kind == "retry"]
    assert retries == [
        "HTTP 503; retrying in 4.0 s (attempt 2)",
        "HTTP 429; retrying in 2.0 s (attempt 3)",
        "HTTP 429; retrying in 5.0 s (attempt 4)",
    ]


def test_submit_post_not_retried_on_503_but_on_connect_error() -> None:
    server = Server({("POST", "/fal-ai/flux/dev"): (503, {"detail": "busy"}, {"Retry-After": "1"})})
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0))
    assert caught.value.code == "provider.unavailable" and len(server.requests) == 1

    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): [httpx.ConnectError("[Errno 111] Connection refused"), SUBMIT],
            STATUS: (200, {"status": "COMPLETED"}),
            RESULT: (200, IMAGES),
        }
    )
    job, _ = run_fal(server, FakeTime(100.0))
    assert job.request_id == "r-1" and len(server.calls("POST", "/fal-ai/flux/dev")) == 2


def test_submit_read_timeout_is_not_retried() -> None:
    server = Server({("POST", "/fal-ai/flux/dev"): [httpx.ReadTimeout("timed out"), SUBMIT]})
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0))
    assert caught.value.code == "network.timeout" and len(server.requests) == 1


def test_poll_transport_error_keeps_the_request_id() -> None:
    server = Server({("POST", "/fal-ai/flux/dev"): SUBMIT, STATUS: httpx.ConnectError("[Errno 111] refused")})
    with pytest.raises(GenctlError) as caught:
        run_fal(server, FakeTime(100.0), policy=RetryPolicy(max_attempts=2, jitter=0))
    assert (caught.value.code, caught.value.request_id) == ("network.connect", "r-1")


# -- Replicate ---------------------------------------------------------------------------------------------


def pred(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "p-1",
        "status": status,
        "output": None,
        "error": None,
        "logs": "",
        "data_removed": False,
        "urls": {"get": f"{API}/predictions/p-1", "cancel": f"{API}/predictions/p-1/cancel"},
        **extra,
    }


def run_replicate(server: Server, t: FakeTime, **kwargs: Any) -> Any:
    kwargs.setdefault("policy", NO_JITTER)
    kwargs.setdefault("sleep", t.sleep)
    return run_generation(
        provider=ReplicateProvider(api_url=API),
        client=client(server),
        model="black-forest-labs/flux-schnell",
        params={"prompt": "a fox"},
        key=REP_KEY,
        clock=t.clock,
        **kwargs,
    )


def test_replicate_flow_sends_cancel_after_and_reads_output_from_status() -> None:
    done = pred("succeeded", output=["https://replicate.delivery/a.png"], logs="step 1\nstep 2\n")
    server = Server(
        {
            ("POST", "/v1/models/black-forest-labs/flux-schnell/predictions"): (201, pred("starting"), {}),
            ("GET", "/v1/predictions/p-1"): [(200, pred("processing", logs="step 1\n"), {}), (200, done, {})],
        }
    )
    events: list[Event] = []
    job, result = run_replicate(server, FakeTime(100.0), deadline=90, on_event=events.append)
    [submit] = server.calls("POST", "/v1/models/black-forest-labs/flux-schnell/predictions")
    assert submit.headers["Cancel-After"] == "90s"
    assert submit.headers["Authorization"] == f"Bearer {REP_SECRET}"
    assert json.loads(submit.content) == {"input": {"prompt": "a fox"}}
    assert job.request_id == "p-1"
    assert [o.url for o in result.outputs] == ["https://replicate.delivery/a.png"]
    assert result.raw == done
    assert [e.kind for e in events] == [
        "submitting",
        "submitted",
        "queued",
        "running",
        "log",
        "log",
        "completed",
    ]


def test_replicate_terminal_on_submit_skips_polling() -> None:
    done = pred("succeeded", output="https://replicate.delivery/a.png")
    server = Server({("POST", "/v1/models/black-forest-labs/flux-schnell/predictions"): (201, done, {})})
    t = FakeTime(100.0)
    _, result = run_replicate(server, t)
    assert result.outputs[0].url == "https://replicate.delivery/a.png" and t.sleeps == []


@pytest.mark.parametrize(
    ("final", "code"),
    [
        (pred("failed", error="CUDA out of memory"), "generation.failed"),
        (pred("canceled"), "generation.canceled"),
        (pred("aborted"), "generation.aborted"),
        (pred("succeeded", data_removed=True), "output.expired"),
    ],
)
def test_replicate_terminal_failures(final: dict[str, Any], code: str) -> None:
    server = Server(
        {
            ("POST", "/v1/models/black-forest-labs/flux-schnell/predictions"): (201, pred("starting"), {}),
            ("GET", "/v1/predictions/p-1"): (200, final, {}),
        }
    )
    with pytest.raises(GenctlError) as caught:
        run_replicate(server, FakeTime(100.0))
    assert (caught.value.code, caught.value.exit_code, caught.value.request_id) == (code, 1, "p-1")


def test_replicate_interrupt_posts_cancel() -> None:
    server = Server(
        {
            ("POST", "/v1/models/black-forest-labs/flux-schnell/predictions"): (201, pred("starting"), {}),
            ("GET", "/v1/predictions/p-1"): (200, pred("processing"), {}),
            ("POST", "/v1/predictions/p-1/cancel"): (200, pred("canceled"), {}),
        }
    )

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(GenctlError) as caught:
        run_replicate(server, FakeTime(100.0), sleep=interrupt)
    assert caught.value.code == "interrupted"
    assert len(server.calls("POST", "/v1/predictions/p-1/cancel")) == 1


# -- submit_only, fetch_result, cancel ---------------------------------------------------------------------


def test_submit_only_fetch_and_cancel() -> None:
    server = Server(
        {
            ("POST", "/fal-ai/flux/dev"): SUBMIT,
            STATUS: [(202, {"status": "IN_PROGRESS"}), (200, {"status": "COMPLETED"})],
            RESULT: (200, IMAGES),
            CANCEL: [(202, {"status": "CANCELLATION_REQUESTED"}), (400, {"status": "ALREADY_COMPLETED"})],
        }
    )
    fal, http = FalProvider(queue_url=Q), client(server)
    job = submit_only(provider=fal, client=http, model="fal-ai/flux/dev", params={}, key=FAL_KEY)
    assert isinstance(job, Job) and not server.calls(*STATUS)
    status, result = fetch_result(provider=fal, client=http, job=job, key=FAL_KEY)
    assert status.state == "running" and result is None
    status, result = fetch_result(provider=fal, client=http, job=job, key=FAL_KEY)
    assert status.state == "succeeded" and result is not None and result.outputs[0].url.endswith("a.png")
    assert cancel(provider=fal, client=http, job=job, key=FAL_KEY) is True
    assert cancel(provider=fal, client=http, job=job, key=FAL_KEY) is False


def test_cancel_credential_error_raises() -> None:
    server = Server({CANCEL: (401, {"detail": "No user found for Key ID and Secret"})})
    job = Job("fal", "fal-ai/flux/dev", "r-1", f"{Q}/fal-ai/flux/requests/r-1/status")
    with pytest.raises(GenctlError) as caught:
        cancel(provider=FalProvider(queue_url=Q), client=client(server), job=job, key=FAL_KEY)
    assert (caught.value.code, caught.value.request_id) == ("key.invalid", "r-1")


# -- the secret never leaks ---------------------------------------------------------------------------------


def test_secret_never_appears_in_any_raised_error() -> None:
    leaky_fal = {"detail": f"No user found for Key ID and Secret {FAL_SECRET}"}
    leaky_rep = {"detail": f"bad token {REP_SECRET}", "title": "Unauthenticated"}
    scenarios: list[tuple[Server, Callable[[Server], Any]]] = [
        (Server({("POST", "/fal-ai/flux/dev"): (401, leaky_fal)}), lambda s: run_fal(s, FakeTime(100.0))),
        (
            Server({("POST", "/fal-ai/flux/dev"): httpx.ConnectError(f"refused {FAL_SECRET}")}),
            lambda s: run_fal(s, FakeTime(100.0), policy=RetryPolicy(max_attempts=1)),
        ),
        (
            Server(
                {
                    ("POST", "/fal-ai/flux/dev"): SUBMIT,
                    STATUS: (202, {"status": "IN_QUEUE"}),
                    CANCEL: (500, {}),
                }
            ),
            lambda s: run_fal(s, FakeTime(100.0), deadline=1),
        ),
        (
            Server(
                {
                    ("POST", "/fal-ai/flux/dev"): SUBMIT,
                    STATUS: (200, {"status": "COMPLETED", "error": "x"}),
                    RESULT: (422, {"detail": [{"loc": ["body", "k"], "msg": FAL_SECRET, "type": "t"}]}),
                }
            ),
            lambda s: run_fal(s, FakeTime(100.0)),
        ),
        (
            Server({("POST", "/v1/models/black-forest-labs/flux-schnell/predictions"): (401, leaky_rep, {})}),
            lambda s: run_replicate(s, FakeTime(100.0)),
        ),
        (
            Server({("POST", "/v1/models/black-forest-labs/flux-schnell/predictions"): (402, leaky_rep, {})}),
            lambda s: run_replicate(s, FakeTime(100.0)),
        ),
    ]
    for server, call in scenarios:
        with pytest.raises(GenctlError) as caught:
            call(server)
        err = caught.value
        for text in (str(err), repr(err), json.dumps(err.to_json()), repr(err.args)):
            for secret in (FAL_SECRET, FAL_SECRET.split(":")[1], REP_SECRET):
                assert secret not in text, (err.code, text)


def test_retry_events_never_show_the_secret() -> None:
    server = Server({("POST", "/fal-ai/flux/dev"): httpx.ConnectError(f"refused {FAL_SECRET}")})
    events: list[Event] = []
    with pytest.raises(GenctlError):
        run_fal(server, FakeTime(100.0), events, policy=RetryPolicy(max_attempts=3, jitter=0))
    messages = [e.message or "" for e in events if e.kind == "retry"]
    assert len(messages) == 2 and all("refused" in m for m in messages)
    assert not any(FAL_SECRET in m or FAL_SECRET.split(":")[1] in m for m in messages)
