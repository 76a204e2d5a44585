"""How the runner waits for a job to end: the provider's status stream where it has one, else polls.

fal sends every status change of a queued job as Server-Sent Events (fal-api.md §1.1), so its result can
be fetched the moment it exists. The stream is an optimisation, never a dependency: when it cannot be
opened the wait polls; when it drops mid-job one poll goes out at once (the job may have ended meanwhile)
and the stream is opened again, a bounded number of times, after which polling carries on. No stream read
outlives the runner's deadline: each opening's read timeout is the time left.

Polls follow a schedule (steady near the start, where most jobs end, then backing off) and draw on a
process-wide GET budget per provider, so a batch of many concurrent waits stays within the provider's
published request rate (Replicate: 3000 GET/min per account, replicate-api.md §1.8).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from genctl.errors import GenctlError
from genctl.providers import registry
from genctl.providers.base import Job, JobStatus, Provider
from genctl.status_stream import SseParser
from genctl.values import Key

log = logging.getLogger("genctl.waiting")

Poll = Callable[[], httpx.Response]
# A stream open refused this way will be refused again: poll for the rest of the job.
_STREAM_UNSUPPORTED = frozenset({400, 401, 403, 404, 405, 406, 410, 415, 501})


@dataclass(frozen=True)
class PollSchedule:
    """The pause before each poll: none before the first, `first` while `steady_for` seconds have not
    passed since the wait began, then growing by `factor` up to `maximum`."""

    first: float = 0.25
    maximum: float = 2.0
    steady_for: float = 0.0
    factor: float = 1.5

    def next(self, previous: float, elapsed: float) -> float:
        if not previous or elapsed < self.steady_for:
            return self.first
        return min(previous * self.factor, self.maximum)


class GetBudget:
    """A rate limit on GETs shared by every wait of this process on one provider (a GCRA token bucket).

    `reserve()` books the next GET and says how long to wait before sending it; `burst` GETs may go at once.
    """

    def __init__(self, per_minute: float, *, burst: int = 10, clock: Callable[[], float] = time.monotonic):
        self.spacing = 60.0 / per_minute
        self.slack = self.spacing * max(0, burst - 1)
        self._clock = clock
        self._tat = 0.0  # the theoretical arrival time of the next GET
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = self._clock()
            tat = max(self._tat, now)
            wait = max(0.0, tat - now - self.slack)
            self._tat = tat + self.spacing
            return wait


_BUDGETS: dict[str, GetBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for(provider: str) -> GetBudget | None:
    """This process's GET budget for the provider: 80 % of its published GET rate; None when it has none."""
    limit = registry.info(provider).get_limit_per_minute
    if limit is None:
        return None
    with _BUDGETS_LOCK:
        return _BUDGETS.setdefault(provider, GetBudget(0.8 * limit))


@dataclass(frozen=True)
class WaitPlan:
    """How to wait: poll schedule, GET budget, and whether (and how often) to use the status stream."""

    schedule: PollSchedule = field(default_factory=PollSchedule)
    budget: GetBudget | None = None
    stream: bool = False
    stream_opens: int = 4  # openings of the stream per job (the first and the re-openings after drops)
    # The longest silence a live stream keeps (fal pings every 15 s, §1.1); quieter than that, it is dead.
    stream_idle: float = 35.0

    @classmethod
    def for_provider(cls, provider: str) -> WaitPlan:
        """What `genctl generate`, batches and `genctl result --wait` use: stream where offered, polls
        every 0.25 s for the first 10 s (where typical image jobs end), then backing off to 2 s."""
        return cls(
            schedule=PollSchedule(first=0.25, maximum=2.0, steady_for=10.0),
            budget=budget_for(provider),
            stream=registry.info(provider).status_stream,
        )


class Follower:
    """Yields a job's next status, from its stream or a poll, until the runner sees a terminal one."""

    def __init__(
        self,
        *,
        provider: Provider,
        client: httpx.Client,
        job: Job,
        key: Key,
        poll: Poll,
        first: tuple[JobStatus, httpx.Response],
        plan: WaitPlan,
        remaining: Callable[[], float | None],
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._provider, self._client, self._job, self._key = provider, client, job, key
        self._poll, self._plan = poll, plan
        self._remaining, self._clock, self._sleep = remaining, clock, sleep
        self._last = first
        self._last_response = first[1]
        self._began = clock()
        self._interval = 0.0  # the first poll goes out at once: fast jobs end within the submit
        self._opens_left = plan.stream_opens if plan.stream else 0
        self._open: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._parser = SseParser()
        self._pending: deque[JobStatus] = deque()
        self._poll_now = False  # after a drop: one poll at once, the job may have ended meanwhile
        self.stream_events = 0  # statuses read from the stream (for tests and benchmarks)
        self.polls = 0

    def next(self) -> tuple[JobStatus, httpx.Response]:
        if self._pending:
            return self._stream_status(self._pending.popleft())
        if not self._poll_now and (self._open is not None or self._opens_left > 0):
            got = self._from_stream()
            if got is not None:
                return got
        return self._poll_once()

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
        self._open, self._chunks = None, None

    # -- polling ------------------------------------------------------------------------------------

    def _poll_once(self) -> tuple[JobStatus, httpx.Response]:
        pause = 0.0 if self._poll_now else self._interval
        self._poll_now = False
        if self._plan.budget is not None:
            pause = max(pause, self._plan.budget.reserve())
        remaining = self._remaining()
        if pause > 0:
            self._sleep(pause if remaining is None else max(0.0, min(pause, remaining)))
            if (left := self._remaining()) is not None and left <= 0:
                return self._last  # the runner's deadline check ends the wait
        response = self._poll()
        self.polls += 1
        status = self._provider.parse_status(response)
        self._interval = self._plan.schedule.next(self._interval, self._clock() - self._began)
        self._last = (status, response)
        return self._last

    # -- the stream ---------------------------------------------------------------------------------

    def _stream_status(self, status: JobStatus) -> tuple[JobStatus, httpx.Response]:
        assert self._open is not None
        self.stream_events += 1
        self._last = (status, self._last_response)
        if status.terminal:
            self._drain()
        return self._last

    def _drain(self) -> None:
        """Read the stream to its end: fal closes it after COMPLETED (§1.1), and a connection cut while
        the server still writes its last chunk is an error on the server's side."""
        try:
            for _ in self._chunks or ():
                pass
        except (httpx.TransportError, httpx.StreamError):
            pass
        self.close()

    def _from_stream(self) -> tuple[JobStatus, httpx.Response] | None:
        """The next status from the stream, or None when it cannot be had (then the caller polls)."""
        if self._open is None and not self._open_stream():
            return None
        assert self._open is not None and self._chunks is not None
        try:
            for chunk in self._chunks:
                for event in self._parser.feed(chunk):
                    if (status := self._status_of(event.data)) is not None:
                        self._pending.append(status)
                if self._pending:
                    return self._stream_status(self._pending.popleft())
        except httpx.ReadTimeout:
            left = self._remaining()
            self.close()
            if left is not None and left <= 0.05:
                return self._last  # the read ended with the deadline; the runner's check ends the wait
            log.debug("status stream of %s silent too long", self._job.request_id)
        except (httpx.TransportError, httpx.StreamError) as exc:
            log.debug("status stream of %s broke: %r", self._job.request_id, exc)
            self.close()
        else:
            log.debug("status stream of %s ended before the job did", self._job.request_id)
            self.close()
        self._poll_now = True
        return None

    def _open_stream(self) -> bool:
        request = self._provider.status_stream_request(self._job, key=self._key, logs=True)
        if request is None:
            self._opens_left = 0
            return False
        remaining = self._remaining()
        read = (
            self._plan.stream_idle if remaining is None else max(0.05, min(remaining, self._plan.stream_idle))
        )
        connect = self._client.timeout.connect
        timeout = httpx.Timeout(read, connect=read if connect is None else min(connect, read))
        self._opens_left -= 1
        built = self._client.build_request(
            request.method, request.url, headers=request.headers, params=request.params, timeout=timeout
        )
        built.headers["Accept"] = "text/event-stream"
        try:
            response = self._client.send(built, stream=True)
        except httpx.TransportError as exc:
            log.debug("status stream of %s did not open: %r", self._job.request_id, exc)
            return False
        kind = response.headers.get("content-type", "")
        if not response.is_success or not kind.startswith("text/event-stream"):
            log.debug(
                "status stream of %s refused: HTTP %d %s", self._job.request_id, response.status_code, kind
            )
            response.close()
            if response.status_code in _STREAM_UNSUPPORTED or response.is_success:
                self._opens_left = 0  # it will not open next time either; polls carry the job
            return False
        self._open, self._parser = response, SseParser()
        self._chunks = response.iter_bytes()
        self._last_response = response
        return True

    def _status_of(self, data: str) -> JobStatus | None:
        """An event's status object, as the poll endpoint would have answered it; None for anything else."""
        try:
            body = json.loads(data)
        except ValueError:
            return None  # UNVERIFIED: fal sends only JSON status events; anything else is skipped
        if not isinstance(body, dict) or "status" not in body:
            return None
        assert self._open is not None
        answer = httpx.Response(
            200,
            json=body,
            headers={k: v for k, v in self._open.headers.items() if k.lower().startswith("x-")},
            request=self._open.request,
        )
        try:
            status = self._provider.parse_status(answer)
        except GenctlError:
            return None  # an unknown status in an event: the next poll or event says more
        self._last_response = answer
        return status
