"""Sandbox state: the tunable config, each job's deterministic life, stored files, and the request log."""

from __future__ import annotations

import base64
import dataclasses
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from genctl.sandbox.catalog import Json
from genctl.sandbox.keys import KeyRegistry
from genctl.sandbox.media import MediaSpec

Phase = Literal["queued", "running", "done", "canceled", "aborted"]
TERMINAL: frozenset[str] = frozenset({"done", "canceled", "aborted"})


@dataclass
class SandboxConfig:
    """Knobs a test turns; read at submit time, so a running job keeps the settings it was born with."""

    queue_polls: int = 0  # status reads a job spends IN_QUEUE (queue_position counts down to 0)
    progress_polls: int = 0  # then reads spent IN_PROGRESS, each adding a "step k/n" log line
    model_latency: float = 0.0  # a job is not done before submit + latency (wall clock)
    response_delay: float = 0.0  # added before every response (concurrency benchmarks)
    never_finish: bool = False  # every new job runs forever (until cancelled)
    max_block: float = 1.0  # longest a request blocks on a job that never finishes (Prefer: wait, fal.run)
    data_uri_outputs: bool = False  # outputs as data: URIs instead of URLs
    big_output_bytes: int | None = None  # every output file is exactly this big, streamed
    cancel_after_min: float = 5.0  # Replicate's minimum Cancel-After; lower it to test deadlines fast
    # fal PUT .../cancel answers `{"status": ...}` (fal's queue docs, the default) or `{"success": bool}`
    # (fal's generated per-endpoint OpenAPI, recordings/fal/seedream_openapi.json); fal-api.md §1.1.
    # UNVERIFIED: which one the live queue sends today; no recording decides, so the default stays `status`.
    fal_cancel_shape: str = "status"
    status_stream_tick: float = 0.02  # how often the fal status stream re-reads the job
    status_stream_ping: float = 15.0  # keep-alive comment interval (fal's docs: every 15 s)
    # Replicate `Prefer: wait` answers 201 `processing` with the output already filled and `urls.stream`, as
    # the recorded test_*_blocking[*-10].yaml exchanges do, instead of waiting for `succeeded`.
    replicate_early_output: bool = False

    def update(self, **changes: Any) -> None:
        names = {f.name: f for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise TypeError(f"unknown sandbox setting {name!r}; known: {', '.join(sorted(names))}")
            current = getattr(self, name)
            if isinstance(current, bool):
                # Over the HTTP control API a flag may arrive as a string; "false" must not mean True.
                value = (
                    value.strip().lower() in ("1", "true", "yes", "on")
                    if isinstance(value, str)
                    else bool(value)
                )
            elif name == "big_output_bytes":
                value = None if value is None else int(value)
            elif name == "fal_cancel_shape" and value not in ("status", "success"):
                raise ValueError("fal_cancel_shape is 'status' or 'success'")
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            setattr(self, name, value)

    def as_dict(self) -> Json:
        return dataclasses.asdict(self)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def replicate_id() -> str:
    """26 lowercase base32 characters, the shape of Replicate prediction and file ids."""
    return base64.b32encode(uuid.uuid4().bytes).decode().rstrip("=").lower()[:26]


@dataclass
class Outcome:
    """How a job ends once it is done, decided at submit."""

    output: Any = None  # fal: the result body; Replicate: the prediction's output
    status: int = 200  # fal: HTTP status of the result GET
    error: str | None = None
    error_type: str | None = None
    replicate_status: str = "succeeded"  # succeeded | failed | canceled | aborted
    data_removed: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    billable_units: float = 0.0  # fal: units the runtime reports for this call (x-fal-billable-units)


@dataclass
class LogLine:
    time: float
    step: int
    total: int

    @property
    def message(self) -> str:
        return f"step {self.step}/{self.total}"


@dataclass
class Job:
    """A job whose phase advances by status reads and wall clock, never by background threads."""

    id: str
    provider: Literal["fal", "replicate"]
    model: str  # fal endpoint id, or Replicate owner/name
    input: Json
    account: str
    key_fp: str
    outcome: Outcome
    queue_polls: int = 0
    progress_polls: int = 0
    latency: float = 0.0
    never_finish: bool = False
    version: str = "hidden"
    created: float = field(default_factory=time.time)
    deadline: float | None = None
    reads: int = 0
    logs: list[LogLine] = field(default_factory=list)
    final: Phase | None = None
    started: float | None = None
    completed: float | None = None
    position: int = 0
    start_deadline: float | None = None  # fal X-Fal-Request-Timeout: must leave the queue before this
    on_start_timeout: Outcome | None = None  # ... or end with this outcome instead
    inference_time: float | None = None  # a fixed metrics.inference_time (the runtime's instant 404)

    @property
    def app(self) -> str:
        return "/".join(self.model.split("/")[:2])

    def _natural(self, now: float) -> Phase:
        reads, queued, progress = self.reads, self.queue_polls, self.progress_polls
        if reads <= queued:
            self.position = queued - reads
            return "queued"
        if reads <= queued + progress:
            step = reads - queued
            if not self.logs or self.logs[-1].step < step:
                self.logs.append(LogLine(now, step, progress))
            return "running"
        if self.never_finish or now < self.created + self.latency:
            return "running"
        return "done"

    def observe(self, now: float, *, advance: bool) -> Phase:
        """The job's phase now; `advance` spends one status read (result reads and cancels do not)."""
        if self.final is not None:
            return self.final
        previous = self.phase_now(now) if self.deadline is not None else None
        if advance:
            self.reads += 1
        if (
            self.start_deadline is not None
            and self.on_start_timeout is not None
            and now >= self.start_deadline
            and self.phase_now(now) == "queued"
        ):
            # fal: the request did not get a runner in time; it completes with the timeout error (§1.7).
            self.outcome, self.final, self.completed = self.on_start_timeout, "done", now
            return self.final
        if self.deadline is not None and now >= self.deadline:
            # Cancel-After: before the start it is `aborted`, once running it is `canceled` (§1.3).
            self.final = "aborted" if previous == "queued" else "canceled"
            self.completed = self.deadline
            return self.final
        phase = self._natural(now)
        if phase != "queued" and self.started is None:
            self.started = now
        if phase == "done":
            self.final, self.completed = "done", now
        return phase

    def phase_now(self, now: float) -> Phase:
        if self.final is not None:
            return self.final
        # A job with no queue phase counts as started from submit (it matters for Cancel-After).
        if self.queue_polls > 0 and self.reads <= self.queue_polls:
            return "queued"
        return "running"

    def seconds_to_done(self, now: float) -> float | None:
        """How long a blocking wait must last for this job to finish; None when reads (or nothing) would."""
        if self.final is not None:
            return 0.0
        if self.never_finish or self.reads < self.queue_polls + self.progress_polls:
            return None
        return max(0.0, self.created + self.latency - now)

    def cancel(self, now: float) -> Phase:
        """Cancel unless already terminal; returns the phase the job was in."""
        phase = self.phase_now(now)
        if phase not in TERMINAL:
            self.final, self.completed = "canceled", now
        return phase


@dataclass(frozen=True)
class RequestRecord:
    """One request as the sandbox saw it. Keys are fingerprinted (sha256 hex[:12]), never stored."""

    method: str
    path: str
    query: str
    host: str  # fal.queue | fal.run | fal.api | fal.rest | fal.cdn | media | replicate | unknown
    provider: str  # fal | replicate | media | unknown
    key_fingerprint: str | None
    status: int | None  # None when the connection was dropped before a status line
    time: float
    duration: float
    fault: str | None = None  # id of the fault that fired


@dataclass(frozen=True)
class CancelRecord:
    provider: str
    request_id: str
    model: str
    phase: str  # the phase the job was in: queued | running | done | canceled | aborted | not_found
    time: float
    key_fingerprint: str | None


@dataclass
class StoredFile:
    """A file someone uploaded (fal storage, Replicate Files API)."""

    id: str
    name: str
    content_type: str
    data: bytes
    created: float
    account: str = ""
    metadata: Json = field(default_factory=dict)
    provider: str = "fal"


class Store:
    """Everything the sandbox remembers, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.media: dict[str, MediaSpec] = {}
        self.files: dict[str, StoredFile] = {}
        self.cdn_tokens: dict[str, str] = {}  # token -> account
        self.multipart: dict[str, list[tuple[int, bytes]]] = {}
        self.records: list[RequestRecord] = []
        self.cancels: list[CancelRecord] = []

    def add_job(self, job: Job) -> Job:
        with self.lock:
            self.jobs[job.id] = job
        return job

    def job(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def add_media(self, spec: MediaSpec) -> str:
        media_id = uuid.uuid4().hex[:20]
        with self.lock:
            self.media[media_id] = spec
        return media_id

    def add_file(self, stored: StoredFile) -> StoredFile:
        with self.lock:
            self.files[stored.id] = stored
        return stored

    def record(self, rec: RequestRecord) -> None:
        with self.lock:
            self.records.append(rec)

    def record_cancel(self, rec: CancelRecord) -> None:
        with self.lock:
            self.cancels.append(rec)


@dataclass
class Context:
    """What every handler needs: the state, the key registry and the live config."""

    store: Store
    keys: KeyRegistry
    config: SandboxConfig
