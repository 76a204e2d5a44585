"""Sends, polls and retries: one generation from submit to result, with a deadline, cancel and Ctrl-C."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import httpx

from genctl import deadline as limits
from genctl.errors import GenctlError, error
from genctl.http import RetryPolicy, json_body, send
from genctl.timefmt import seconds
from genctl.waiting import Follower, PollSchedule, WaitPlan

if TYPE_CHECKING:
    from genctl.providers.base import Job, JobStatus, Provider, Result
    from genctl.values import HttpRequest, Key

log = logging.getLogger("genctl.runner")

# "key": a key notice from genctl.keys.failover: a switch to another key, or key state that cannot be saved.
# "history": the job history cannot be written (genctl.history.tracking); the job goes on unrecorded.
EventKind = Literal[
    "submitting", "submitted", "queued", "running", "log", "completed", "retry", "key", "history"
]
CANCEL_TIMEOUT = 5.0  # seconds: a best-effort cancel must not hold up the error report
# Once --timeout has passed, the cancel (and the history write) must fit in what is left of N + 2 s.
CANCEL_AFTER_DEADLINE = 1.5
_NOT_CANCELLED = frozenset({"ALREADY_COMPLETED", "NOT_FOUND", "succeeded", "failed", "aborted"})
# Codes a result GET of a failed job may carry that say more than the status's error string.
_SERVER_SIDE = frozenset({"provider.unavailable", "generation.timeout"})
CANCELLED = "the remote job was cancelled"
_STOPPED = frozenset({CANCELLED})


@dataclass(frozen=True)
class Event:
    """Progress of one generation, for the CLI's status line."""

    kind: EventKind
    job: Job | None = None
    queue_position: int | None = None
    message: str | None = None


@dataclass
class _Session:
    """What one generation carries from call to call: who sends, how, and until when."""

    provider: Provider
    client: httpx.Client
    key: Key
    model: str
    policy: RetryPolicy
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    on_event: Callable[[Event], None] | None
    deadline: float | None = None
    end: float | None = None  # clock() value at the deadline
    job: Job | None = None
    seen_logs: tuple[str, ...] = ()
    last_state: str | None = None
    last_position: int | None = None
    plan: WaitPlan | None = None  # how to wait (genctl.waiting); None: plain polls as `_follow` is told
    hold: float | None = None  # longest the submit's answer may be held until the job ends (Prefer: wait)

    def emit(self, kind: EventKind, *, queue_position: int | None = None, message: str | None = None) -> None:
        if self.on_event is not None:
            self.on_event(Event(kind, self.job, queue_position, message))

    def remaining(self) -> float | None:
        return None if self.end is None else self.end - self.clock()

    def send(self, request: HttpRequest) -> httpx.Response:
        def on_retry(attempt: int, wait: float, reason: str) -> None:
            self.emit("retry", message=f"{reason}; retrying in {wait:.1f} s (attempt {attempt + 1})")

        remaining = self.remaining()
        timeout = None
        if remaining is not None and request.idempotent and request.timeout is None:
            # A poll must not hang past the deadline: wait for an answer only as long as time is left.
            read = self.client.timeout.read
            timeout = max(1.0, min(remaining, read if read is not None else remaining))
        return send(
            self.client,
            request,
            policy=self.policy,
            sleep=self.sleep,
            on_retry=on_retry,
            provider=self.provider.name,
            budget=None if remaining is None else lambda: max(0.0, self.remaining() or 0.0),
            timeout=timeout,
        )

    def checked(self, request: HttpRequest) -> httpx.Response:
        """Send; a non-2xx answer becomes the provider's GenctlError."""
        response = self.send(request)
        if not response.is_success:
            raise self.provider.error_from_response(response, model=self.model, key=self.key)
        return response

    def observe(self, status: JobStatus) -> None:
        """Emit what changed: queue position, the start of the run, each new log line once."""
        if status.state == "queued" and (
            self.last_state != "queued" or status.queue_position != self.last_position
        ):
            position = status.queue_position
            self.emit("queued", queue_position=position, message=None if position is None else f"#{position}")
        elif status.state == "running" and self.last_state != "running":
            self.emit("running")
        self.last_state, self.last_position = status.state, status.queue_position
        logs, seen = status.logs, self.seen_logs
        # Providers resend the whole log each poll; a log that does not extend what we saw is all new.
        fresh = logs[len(seen) :] if logs[: len(seen)] == seen else logs
        self.seen_logs = logs if logs[: len(seen)] == seen else seen + logs
        for line in fresh:
            self.emit("log", message=line)


def _session(
    provider: Provider,
    client: httpx.Client,
    key: Key,
    model: str,
    *,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_event: Callable[[Event], None] | None = None,
    deadline: float | None = None,
    job: Job | None = None,
    waiting: WaitPlan | None = None,
) -> _Session:
    """One session, built by name: the deadline (seconds from now) becomes its end on `clock`."""
    s = _Session(
        provider, client, key, model, policy or RetryPolicy(), clock, sleep, on_event, deadline, job=job
    )
    s.plan = waiting
    s.end = None if deadline is None else clock() + deadline
    return s


@contextmanager
def _tagged(job: Job) -> Iterator[None]:
    """Every error raised about an accepted job names it, so `genctl result ID` can take over."""
    try:
        yield
    except GenctlError as err:
        err.request_id = err.request_id or job.request_id
        raise


def run_generation(
    *,
    provider: Provider,
    client: httpx.Client,
    model: str,
    params: dict[str, Any],
    key: Key,
    deadline: float | None = None,
    poll_interval: float = 0.25,
    max_poll_interval: float = 2.0,
    on_event: Callable[[Event], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy | None = None,
    waiting: WaitPlan | None = None,
    hold: float | None = None,
) -> tuple[Job, Result]:
    """Submit, poll until done, fetch the result; past `deadline` (seconds from now) cancel the job.

    `hold` (seconds): let the provider hold the submit's answer until the job ends, at most that long and
    never past the deadline (Replicate's `Prefer: wait`); a held answer that is terminal needs no poll.
    A process killed meanwhile leaves the job unknown here: genctl.history records the submit before it
    goes out, so `genctl result --pending` can find it.
    """
    s = _session(
        provider,
        client,
        key,
        model,
        policy=policy,
        clock=clock,
        sleep=sleep,
        on_event=on_event,
        deadline=deadline,
        waiting=waiting,
    )
    s.hold = hold
    try:
        job, status, response = _submit(s, params)
    except KeyboardInterrupt as exc:
        raise error(
            "interrupted",
            "Interrupted while submitting: the job may exist at the provider (the submit was sent, its "
            "answer with the job id never arrived, so nothing could be cancelled).",
            fix=f"Check your recent requests at {provider.name} before running it again, so it is not paid "
            "for twice.",
            provider=provider.name,
        ) from exc
    try:
        with _tagged(job):
            result = _follow(
                s, status, response, poll_interval=poll_interval, max_poll_interval=max_poll_interval
            )
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP / SIGPIPE (genctl.cli turns them into one)
        note = _cancel_quietly(s, job, seconds=CANCEL_TIMEOUT)
        cancelled = note in _STOPPED
        raise error(
            "interrupted",
            f"Interrupted; {note} (request {job.request_id}).",
            fix="Run the command again to start a new generation."
            if cancelled
            else f"`genctl result {job.request_id} --wait` finishes it, or cancel it on the provider.",
            provider=provider.name,
            request_id=job.request_id,
            details={"cancel": note, "pending": not cancelled},
        ) from exc
    s.emit("completed")
    return job, result


def submit_only(
    *,
    provider: Provider,
    client: httpx.Client,
    model: str,
    params: dict[str, Any],
    key: Key,
    deadline: float | None = None,
    on_event: Callable[[Event], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy | None = None,
) -> Job:
    """Submit and return the job without waiting (--no-wait); `deadline` only goes to the provider."""
    s = _session(provider, client, key, model, policy=policy, sleep=sleep, on_event=on_event)
    s.deadline = deadline  # told to the provider only: no end on our clock
    job, _, _ = _submit(s, params)
    return job


def fetch_result(
    *,
    provider: Provider,
    client: httpx.Client,
    job: Job,
    key: Key,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy | None = None,
) -> tuple[JobStatus, Result | None]:
    """The job's status now and, when it has finished well, its result (None while it still runs)."""
    s = _session(provider, client, key, job.model, policy=policy, sleep=sleep, job=job)
    with _tagged(job):
        response = s.checked(provider.status_request(job, key=key, logs=False))
        status = provider.parse_status(response)
        return status, (_finish(s, status, response) if status.terminal else None)


def follow(
    *,
    provider: Provider,
    client: httpx.Client,
    job: Job,
    key: Key,
    poll_interval: float = 0.25,
    max_poll_interval: float = 2.0,
    on_event: Callable[[Event], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy | None = None,
    waiting: WaitPlan | None = None,
) -> Result:
    """Poll a job submitted earlier (`genctl result --wait`) until it ends; its result.

    No deadline and no cancel: stopping the wait leaves the job running on the provider.
    """
    s = _session(
        provider,
        client,
        key,
        job.model,
        policy=policy,
        clock=clock,
        sleep=sleep,
        on_event=on_event,
        job=job,
        waiting=waiting,
    )
    with _tagged(job):
        response = s.checked(provider.status_request(job, key=key, logs=True))
        result = _follow(
            s,
            provider.parse_status(response),
            response,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )
    s.emit("completed")
    return result


def cancel(
    *,
    provider: Provider,
    client: httpx.Client,
    job: Job,
    key: Key,
    timeout: float = CANCEL_TIMEOUT,
    policy: RetryPolicy | None = None,
) -> bool:
    """Ask the provider to stop the job: True if it accepted, False if the job had already finished."""
    request = provider.cancel_request(job, key=key)
    if request is None:
        return False
    response = send(
        client,
        _with_timeout(request, timeout),
        policy=policy or RetryPolicy(max_attempts=2),
        provider=provider.name,
    )
    if response.is_success:
        return cancel_accepted(json_body(response))
    # UNVERIFIED (fal-api.md §1.1): the HTTP codes of ALREADY_COMPLETED / NOT_FOUND; a 2xx is read above.
    if response.status_code in (400, 404, 409):
        return False
    err = provider.error_from_response(response, model=job.model, key=key)
    err.request_id = err.request_id or job.request_id
    raise err


def _submit(s: _Session, params: dict[str, Any]) -> tuple[Job, JobStatus, httpx.Response]:
    request = s.provider.submit_request(
        model=s.model, params=params, key=s.key, deadline=s.deadline, wait=_held(s)
    )
    if _out_of_time(s):
        # Never a paid submit once the deadline has passed: it would be cancelled at once, for nothing.
        raise _limit_error(s, "before the job was submitted: nothing was sent, nothing is charged")
    s.emit("submitting")  # the paid request goes out now (uploads and the pre-flight are done)
    try:
        response = s.checked(request)
        job, status = s.provider.parse_submit(response, model=s.model, key=s.key)
    except GenctlError as err:
        if err.code == "generation.timeout" and err.details.get("sent"):
            raise error(
                "generation.timeout",
                f"{err.message} The submit was sent and no answer came: {s.provider.name} may have "
                "started a job, which genctl cannot cancel without its request id.",
                fix="Check the provider's dashboard for a running job, and allow more time with --timeout.",
                provider=s.provider.name,
                details=err.details,
            ) from err
        raise
    s.job = job
    log.debug("submitted %s as %s", s.model, job.request_id)
    s.emit("submitted")
    return job, status, response


# Transport failures after the whole submit went out: the provider may have created (and be billing) a job.
_LOST_ANSWER = (httpx.ReadTimeout, httpx.DecodingError, httpx.RemoteProtocolError, httpx.ReadError)


def answer_lost(err: GenctlError) -> bool:
    """Whether a submit that failed this way may still have created the job: the request was sent whole
    and its answer was lost on the way back (a read timeout, a connection cut before the answer, a body
    that cannot be decoded, Ctrl-C while it was awaited), or a 2xx answer came that does not parse. A
    refused connection, an HTTP error answer or the deadline passing before sending created nothing.
    Only for errors of the submit itself (`run_generation` / `submit_only` before any job id)."""
    if err.code == "generation.timeout" and err.details.get("sent"):
        return True
    if err.code == "interrupted" and err.request_id is None:
        return True
    if isinstance(err.__cause__, _LOST_ANSWER):
        return True
    return err.http_status is not None and 200 <= err.http_status < 300


def _follow(
    s: _Session,
    status: JobStatus,
    response: httpx.Response,
    *,
    poll_interval: float,
    max_poll_interval: float,
) -> Result:
    assert s.job is not None
    job = s.job
    s.observe(status)
    plan = s.plan or WaitPlan(schedule=PollSchedule(first=poll_interval, maximum=max_poll_interval))
    follower = Follower(
        provider=s.provider,
        client=s.client,
        job=job,
        key=s.key,
        poll=lambda: s.checked(s.provider.status_request(job, key=s.key, logs=True)),
        first=(status, response),
        plan=plan,
        remaining=s.remaining,
        clock=s.clock,
        sleep=s.sleep,
    )
    try:
        while not status.terminal:
            _check_deadline(s)
            try:
                status, response = follower.next()
            except GenctlError as err:
                _check_deadline(s, cause=err)  # a poll that failed because time ran out is a timeout
                raise still_pending(job, err) from err
            s.observe(status)
    finally:
        follower.close()
    try:
        return _finish(s, status, response)
    except GenctlError as err:
        if status.state == "succeeded" and _unanswered(err):
            _check_deadline(s, cause=err)
            raise still_pending(job, err) from err  # done and paid: its result can still be read later
        raise  # the result's own answer (a wrong endpoint path, an empty or cancelled result) is final


def _unanswered(err: GenctlError) -> bool:
    """The read failed on the way (an outage, a rate limit, the network): the result itself is unknown."""
    return err.code in ("provider.unavailable", "rate.limited", "blocked.cloudflare") or err.code.startswith(
        "network."
    )


def still_pending(job: Job, err: GenctlError) -> GenctlError:
    """A status or result read that failed (5xx after retries, 429s, a malformed or unknown status) says
    nothing about the job: it goes on running, and billing, at the provider. Not "failed": `pending`, with
    the command that finishes it."""
    if err.details.get("pending"):
        return err
    return error(
        err.code,
        f"{err.message}\nThe job {job.request_id} was accepted and may still be running (and billing): its "
        "state could not be read.",
        fix=f"`genctl result {job.request_id} --wait` finishes it and saves its outputs.",
        provider=err.provider or job.provider,
        http_status=err.http_status,
        request_id=job.request_id,
        details={**err.details, "pending": True},
    )


def _finish(s: _Session, status: JobStatus, response: httpx.Response) -> Result:
    """The result of a terminal job, or the error that explains why there is none."""
    assert s.job is not None
    if status.state == "succeeded" and not status.data_removed:
        request = s.provider.result_request(s.job, key=s.key)
        if request is None:  # the terminal status carries the outputs (Replicate)
            return s.provider.parse_result(response)
        return s.provider.parse_result(s.checked(request))
    if status.state == "failed" and (request := s.provider.result_request(s.job, key=s.key)) is not None:
        # fal: a failed job is COMPLETED and its result GET returns the model's own error (fal-api.md §1.1).
        # A 4xx there (a 422 naming the offending fields, a content-policy refusal) says more than the
        # status's error string; a 5xx is the model crashing, which stays generation.failed.
        answer = s.send(request)
        if 400 <= answer.status_code < 500:
            raise s.provider.error_from_response(answer, model=s.model, key=s.key)
        if answer.status_code >= 500:
            # …unless it names a request (infra) error type: fal's side failed, not the model (§2.2).
            err = s.provider.error_from_response(answer, model=s.model, key=s.key)
            if err.code in _SERVER_SIDE and err.details.get("error_type"):
                raise err
    raise s.provider.error_from_status(s.job, status)


def _held(s: _Session) -> float | None:
    """How long the submit's answer may be held: `s.hold`, within the runner's and the command's time left."""
    if s.hold is None:
        return None
    left = [t for t in (s.remaining(), limits.command_remaining()) if t is not None]
    return min([s.hold, *left])


def _out_of_time(s: _Session) -> bool:
    remaining = s.remaining()
    return (remaining is not None and remaining <= 0) or limits.command_remaining() == 0


def _limit_name(s: _Session) -> str:
    """`3 s`: the command's --timeout as given, else the runner's own deadline."""
    bound = limits.current()
    if bound is not None and bound.command_seconds is not None and limits.command_remaining() == 0:
        return seconds(bound.command_seconds)
    return seconds(s.deadline) if s.deadline is not None else "the deadline"


def _limit_error(s: _Session, when: str) -> GenctlError:
    limit = _limit_name(s)
    return error(
        "generation.timeout",
        f"The deadline ({limit}, --timeout) passed {when}.",
        fix=f"Allow more time with --timeout (e.g. --timeout {max(2 * (s.deadline or 30), 60):g}).",
        provider=s.provider.name,
        details={"deadline": limit, "sent": False},
    )


def _check_deadline(s: _Session, *, cause: BaseException | None = None) -> None:
    if not _out_of_time(s) or s.job is None:
        return
    note = _cancel_quietly(s, s.job)
    limit = _limit_name(s)
    seconds = s.deadline or 30
    raise error(
        "generation.timeout",
        f"The generation did not finish within {limit} (request {s.job.request_id}); {note}.",
        fix=f"Allow more time with --timeout (e.g. --timeout {max(2 * seconds, 60):g}) "
        "or pick a faster model.",
        provider=s.provider.name,
        request_id=s.job.request_id,
        details={"cancel": note, "pending": note not in _STOPPED},
    ) from cause


def _cancel_quietly(s: _Session, job: Job, *, seconds: float = CANCEL_AFTER_DEADLINE) -> str:
    """Best-effort cancel within `seconds` (wall clock, whatever deadline has passed) and no retries; says
    what happened, never raises."""
    try:
        request = s.provider.cancel_request(job, key=s.key)
        if request is None:
            return "the provider cannot cancel it"
        with limits.limit(seconds, f"the cancel's {seconds:g} s", fresh=True):
            response = send(
                s.client,
                _with_timeout(request, min(seconds, CANCEL_TIMEOUT)),
                policy=RetryPolicy(max_attempts=1),
                sleep=s.sleep,
                provider=s.provider.name,
                budget=0.0,
            )
    except (Exception, KeyboardInterrupt) as exc:
        log.debug("cancel of %s failed: %r", job.request_id, exc)
        return f"cancelling the remote job failed ({exc})"
    if response.is_success:
        if not cancel_accepted(json_body(response)):
            return "the remote job had already finished"
        return CANCELLED
    return f"cancelling the remote job failed (HTTP {response.status_code})"


def cancel_accepted(body: Any) -> bool:
    """Whether a 2xx cancel answer means the job is being stopped.

    fal documents `{"status": "CANCELLATION_REQUESTED" | "OK" | "ALREADY_COMPLETED" | "NOT_FOUND"}`, while
    its per-endpoint OpenAPI declares `{"success": bool}`, where false means not cancelled, usually because
    it had completed (fal-api.md §1.1). Replicate answers the prediction, `status: "canceled"` (§1.5).
    """
    if not isinstance(body, dict):
        return True  # UNVERIFIED: an empty 2xx cancel answer; no artifact shows one, take it as accepted
    if isinstance(body.get("success"), bool):
        return bool(body["success"])
    return body.get("status") not in _NOT_CANCELLED


def _with_timeout(request: HttpRequest, timeout: float) -> HttpRequest:
    return replace(request, timeout=timeout)
