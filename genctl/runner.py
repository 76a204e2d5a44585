"""Sends, polls and retries: one generation from submit to result, with a deadline, cancel and Ctrl-C."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from genctl.errors import GenctlError, error
from genctl.http import RetryPolicy, json_body, send
from genctl.waiting import Follower, PollSchedule, WaitPlan

if TYPE_CHECKING:
    import httpx

    from genctl.providers.base import Job, JobStatus, Provider, Result
    from genctl.values import HttpRequest, Key

log = logging.getLogger("genctl.runner")

# "key": a key notice from genctl.keys.failover: a switch to another key, or key state that cannot be saved.
# "history": the job history cannot be written (genctl.history.tracking); the job goes on unrecorded.
EventKind = Literal["submitted", "queued", "running", "log", "completed", "retry", "key", "history"]
CANCEL_TIMEOUT = 5.0  # seconds: a best-effort cancel must not hold up the error report
_NOT_CANCELLED = frozenset({"ALREADY_COMPLETED", "NOT_FOUND", "succeeded", "failed", "aborted"})
# Codes a result GET of a failed job may carry that say more than the status's error string.
_SERVER_SIDE = frozenset({"provider.unavailable", "generation.timeout"})


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
) -> tuple[Job, Result]:
    """Submit, poll until done, fetch the result; past `deadline` (seconds from now) cancel the job."""
    s = _Session(provider, client, key, model, policy or RetryPolicy(), clock, sleep, on_event, deadline)
    s.plan = waiting
    s.end = None if deadline is None else clock() + deadline
    try:
        job, status, response = _submit(s, params)
    except KeyboardInterrupt as exc:
        raise error(
            "interrupted",
            "Interrupted while submitting; no job id was received, so nothing was cancelled.",
            fix="Run the command again.",
            provider=provider.name,
        ) from exc
    try:
        result = _follow(
            s, status, response, poll_interval=poll_interval, max_poll_interval=max_poll_interval
        )
    except KeyboardInterrupt as exc:
        note = _cancel_quietly(s, job)
        raise error(
            "interrupted",
            f"Interrupted; {note} (request {job.request_id}).",
            fix="Run the command again to start a new generation.",
            provider=provider.name,
            request_id=job.request_id,
            details={"cancel": note},
        ) from exc
    except GenctlError as err:
        err.request_id = err.request_id or job.request_id
        raise
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
    s = _Session(
        provider, client, key, model, policy or RetryPolicy(), time.monotonic, sleep, on_event, deadline
    )
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
    s = _Session(
        provider, client, key, job.model, policy or RetryPolicy(), time.monotonic, sleep, None, job=job
    )
    try:
        response = s.checked(provider.status_request(job, key=key, logs=False))
        status = provider.parse_status(response)
        return status, (_finish(s, status, response) if status.terminal else None)
    except GenctlError as err:
        err.request_id = err.request_id or job.request_id
        raise


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
    s = _Session(provider, client, key, job.model, policy or RetryPolicy(), clock, sleep, on_event, job=job)
    s.plan = waiting
    try:
        response = s.checked(provider.status_request(job, key=key, logs=True))
        result = _follow(
            s,
            provider.parse_status(response),
            response,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )
    except GenctlError as err:
        err.request_id = err.request_id or job.request_id
        raise
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
    request = s.provider.submit_request(model=s.model, params=params, key=s.key, deadline=s.deadline)
    response = s.checked(request)
    job, status = s.provider.parse_submit(response, model=s.model, key=s.key)
    s.job = job
    log.debug("submitted %s as %s", s.model, job.request_id)
    s.emit("submitted")
    return job, status, response


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
                raise
            s.observe(status)
    finally:
        follower.close()
    return _finish(s, status, response)


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


def _check_deadline(s: _Session, *, cause: BaseException | None = None) -> None:
    remaining = s.remaining()
    if remaining is None or remaining > 0 or s.job is None or s.deadline is None:
        return
    note = _cancel_quietly(s, s.job)
    limit = s.deadline
    raise error(
        "generation.timeout",
        f"The generation did not finish within {limit:g} s (request {s.job.request_id}); {note}.",
        fix=f"Allow more time with --timeout (e.g. --timeout {max(2 * limit, 60):g}) or pick a faster model.",
        provider=s.provider.name,
        request_id=s.job.request_id,
        details={"cancel": note},
    ) from cause


def _cancel_quietly(s: _Session, job: Job) -> str:
    """Best-effort cancel with a short timeout and no retries; says what happened, never raises."""
    try:
        request = s.provider.cancel_request(job, key=s.key)
        if request is None:
            return "the provider cannot cancel it"
        response = send(
            s.client,
            _with_timeout(request, CANCEL_TIMEOUT),
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
        return "the remote job was cancelled"
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
