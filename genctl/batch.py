"""Batch: many generations from one file, run concurrently across the key pool, each reported as it ends.

The file (`genctl generate --batch FILE`) holds one item per line: a line starting with `{` is a JSON
object — `prompt`, and optionally `model`, `provider`, `params` (model inputs), `inputs` (file inputs, like
-i) and `name` — and any other non-blank line is a prompt. The command line's -m, --provider, -p, -i, -o,
--timeout … apply to every item; an item's own model, provider and params win.

Every item goes through `genctl.generation.generate` (pre-flight, key rotation and failover, history), on
one shared httpx client, `concurrency` at a time; an item that fails is reported and the others go on —
a line whose params hold a number no request can carry (NaN, Infinity) too: it fails, sending nothing.

Identity, for `--resume`: the batch file's absolute path, plus the item's `name` when it has one, else the
hash of its effective request (provider, model, prompt, params, inputs) and which occurrence of that
request it is. Moving a line or inserting one above changes nothing; an edited line is a new item. With
`--resume` an item whose last job succeeded is skipped; one whose job is still pending or whose outputs
were not saved (a killed run) is finished with `genctl.history.recovery` instead of being paid for again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import queue
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl import deadline as limits
from genctl import spend
from genctl.cost import Cost
from genctl.errors import GenctlError, error, usage
from genctl.generation import generate, plan
from genctl.history import BatchRef, History
from genctl.history.recovery import recover
from genctl.http import make_client
from genctl.params import parse_input, parse_param
from genctl.providers.factory import get_provider
from genctl.runner import cancel

if TYPE_CHECKING:
    import httpx

    from genctl.generation import GenerationReport
    from genctl.history import JobRecord
    from genctl.history.recovery import Recovery
    from genctl.plan import GenerationRequest
    from genctl.providers.base import Job
    from genctl.runner import Event
    from genctl.settings import Settings

FIELDS = ("prompt", "model", "provider", "params", "inputs", "name")
_STOPPED_CODES = frozenset({"generation.canceled", "generation.aborted", "interrupted"})
CANCEL_ALL = 5.0  # seconds for cancelling every running job once the batch is stopped
SETTLE = 2.0  # seconds a stopped batch waits for the answers of submits already sent, before cancelling
_SIGPIPE = int(getattr(signal, "SIGPIPE", 13))
_EXAMPLE = '{"prompt": "a fox", "model": "fal-ai/flux/dev", "params": {"num_images": 2}, "name": "fox"}'


@dataclass(frozen=True)
class BatchItem:
    """One line of a batch file, as the generation it asks for."""

    number: int  # 1-based among the items
    line: int  # line number in the file
    name: str | None
    request: GenerationRequest
    identity: str  # see the module docstring
    invalid: GenctlError | None = None  # a value no request can carry (NaN): this item fails, not the batch

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "line": self.line, "name": self.name}

    def title(self) -> str:
        return f"item {self.number} (line {self.line}{f', {self.name}' if self.name else ''})"


@dataclass(frozen=True)
class ItemOutcome:
    """How one item ended: a report, a recovered earlier job, a skip (--resume), or an error."""

    item: BatchItem
    report: GenerationReport | None = None
    recovery: Recovery | None = None
    skipped: JobRecord | None = None
    error: GenctlError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        item = {"item": self.item.to_json()}
        if self.error is not None:
            return {"ok": False, **item, "error": self.error.to_json()}
        if self.skipped is not None:
            row = self.skipped
            skipped = {"skipped": True, "request_id": row.request_id, "status": row.status}
            return {"ok": True, **item, **skipped, "outputs": row.outputs}
        if self.recovery is not None:
            return {**self.recovery.to_json(), **item, "recovered": True}
        assert self.report is not None
        data = {**self.report.to_json(), **item}
        return data if self.item.request.wait else {**data, "status": "submitted"}


@dataclass(frozen=True)
class BatchSummary:
    outcomes: list[ItemOutcome]
    submitted_only: bool = False  # --no-wait: "succeeded" means accepted

    @property
    def failed(self) -> list[ItemOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def text(self) -> str:
        """`18 succeeded, 2 failed: payload.invalid ×2`."""
        skipped = sum(o.skipped is not None for o in self.outcomes)
        done = sum(o.ok for o in self.outcomes) - skipped
        parts = [f"{done} {'submitted' if self.submitted_only else 'succeeded'}"]
        if skipped:
            parts.append(f"{skipped} skipped (succeeded before)")
        codes = Counter(o.error.code for o in self.failed if o.error is not None)
        failed = f"{len(self.failed)} failed"
        if codes:
            failed += ": " + ", ".join(f"{code} ×{count}" for code, count in codes.most_common())
        return ", ".join([*parts, failed])


def read_items(text: str, base: GenerationRequest, *, source: Path | None) -> list[BatchItem]:
    """The items of a batch file's `text`; usage.invalid naming the line of the first problem."""

    where = str(source) if source is not None else "<stdin>"
    items: list[BatchItem] = []
    seen: Counter[str] = Counter()
    names: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = _fields(line, f"{where}:{number}")
        name = fields.get("name")
        if name is not None and name in names:
            raise usage(
                f"{where}:{number}: the name {name!r} is already used on line {names[name]}.",
                fix="Give each item its own name: --resume tells items apart by it.",
            )
        request, invalid = _request(base, fields, f"{where}:{number}")
        digest = _digest(request)
        seen[digest] += 1
        if name is not None:
            names[name] = number
        identity = f"name:{name}#{digest}" if name is not None else f"{digest}#{seen[digest]}"
        batch = BatchRef(str(source.resolve()), identity) if source is not None else None
        request = replace(request, batch=batch)
        items.append(BatchItem(len(items) + 1, number, name, request, identity, invalid))
    if not items:
        raise usage(
            f"The batch file {where} holds no items.", fix=f"Write one prompt, or one {_EXAMPLE}, a line."
        )
    return items


def _fields(line: str, where: str) -> dict[str, Any]:
    if not line.startswith("{"):
        return {"prompt": line}
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise usage(
            f"{where}: not valid JSON ({exc.msg} at column {exc.colno}).", fix=f"Write it as {_EXAMPLE}"
        ) from exc
    except RecursionError as exc:
        raise usage(f"{where}: the JSON nests too deeply to read.", fix=f"Write it as {_EXAMPLE}") from exc
    if not isinstance(data, dict):
        raise usage(f"{where}: a JSON line must be an object.", fix=f"Write it as {_EXAMPLE}")
    for name in data:
        if name not in FIELDS:
            raise usage(
                f"{where}: unknown field {name!r}; known: {', '.join(FIELDS)}.", fix=f"Write it as {_EXAMPLE}"
            )
    for name in ("prompt", "model", "provider", "name"):
        if name in data and not isinstance(data[name], str):
            raise usage(f"{where}: {name} must be a string.", fix=f"Write it as {_EXAMPLE}")
    for name in ("params", "inputs"):
        if not isinstance(data.get(name, {}), dict):
            raise usage(f"{where}: {name} must be an object of name: value.", fix=f"Write it as {_EXAMPLE}")
    return data


def _request(
    base: GenerationRequest, fields: dict[str, Any], where: str
) -> tuple[GenerationRequest, GenctlError | None]:
    """`base` (the command line) with the item's own values on top, and the problem of a line whose params
    hold a number no request can carry (NaN, Infinity, 1e999): the line is well-formed, so it is an item —
    one that fails when its turn comes, sending nothing. Any other bad value stops the batch (usage.invalid).
    """

    params = [f"{name}:={json.dumps(value)}" for name, value in fields.get("params", {}).items()]
    inputs = [f"{name}={value}" for name, value in fields.get("inputs", {}).items()]
    invalid = None
    try:
        for item in params:
            parse_param(item)
        for item in inputs:
            parse_input(item)
    except GenctlError as err:
        failed = usage(f"{where}: {err.message}", fix=err.fix)
        if not _non_finite(fields.get("params", {})):
            raise failed from err
        invalid = failed
    request = replace(
        base,
        prompt=fields.get("prompt", base.prompt),
        model=fields.get("model") or base.model,
        provider=fields.get("provider") or base.provider,
        params=[*base.params, *params],
        inputs=[*base.inputs, *inputs],
    )
    return request, invalid


def _non_finite(value: Any) -> bool:
    """Whether `value` (a line's params, as json.loads read them) holds NaN or an infinity anywhere."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


def _digest(request: GenerationRequest) -> str:
    what = [request.provider, request.model, request.prompt, request.params, request.inputs]
    return hashlib.sha256(json.dumps(what, ensure_ascii=False).encode()).hexdigest()[:16]


def run_batch(
    settings: Settings,
    items: list[BatchItem],
    *,
    concurrency: int,
    resume: bool = False,
    on_outcome: Callable[[ItemOutcome], None],
    on_notice: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    client: httpx.Client | None = None,
) -> BatchSummary:
    """Run `items`, `concurrency` at a time; `on_outcome` hears each as it ends, on the calling thread.

    Notices and warnings from the workers also reach the calling thread, each distinct text once. Ctrl-C
    stops the batch: items not started stay so, running jobs are cancelled.
    """

    previous = _previous(items) if resume else {}
    runner = _Workers(settings, previous)
    timeout = max(p.timeout for p in settings.providers.values())
    connect = max(p.connect_timeout for p in settings.providers.values())
    with (
        make_client(timeout=timeout, connect_timeout=connect)
        if client is None
        else _Borrowed(client) as shared
    ):
        to_run = [
            i.request
            for i in items
            if i.invalid is None and getattr(previous.get(i.identity), "status", "") != "succeeded"
        ]
        budget = spend.batch_budget(settings, to_run, lambda r: _estimate(settings, r, shared))
        work: queue.Queue[BatchItem] = queue.Queue()
        for item in items:  # a budget is shared by the items: each reserves its estimate before its submit
            work.put(replace(item, request=replace(item.request, budget=budget)) if budget else item)
        runner.start(work, shared, min(concurrency, len(items)))
        return runner.collect(len(items), on_outcome, on_notice, on_warning)


def _estimate(settings: Settings, request: GenerationRequest, client: httpx.Client) -> Cost | None:
    """An item's estimate on its first provider; None when it cannot be planned (it fails when run)."""
    try:
        resolved = plan(settings, request)
        return spend.estimate(resolved, spend.price_of(settings, resolved, client))
    except GenctlError:
        return None


def _previous(items: list[BatchItem]) -> dict[str, JobRecord]:
    """The last recorded job of each item of this batch file (for --resume)."""

    first = items[0].request
    if first.batch is None:
        raise usage("--resume needs a batch file (not stdin): items are known by the file's path.")
    if not first.history:
        raise usage(
            "--resume reads the job history, which is off here (--no-history).", fix="Drop --no-history."
        )
    return History().batch_items(first.batch.file)


class _Borrowed:
    """A client lent by the caller: used, not closed."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __enter__(self) -> httpx.Client:
        return self.client

    def __exit__(self, *exc: object) -> None:
        return None


class _Workers:
    """Daemon threads taking items off a queue; all they produce goes back to the caller's thread through
    one queue (so rendering needs no lock). Daemon threads: Ctrl-C must not wait for jobs still running."""

    def __init__(self, settings: Settings, previous: dict[str, JobRecord]) -> None:
        self.settings = settings
        self.previous = previous
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.stop = threading.Event()
        self.running: dict[int, Job] = {}  # item number -> its accepted job, to cancel on Ctrl-C
        self.submitting: set[int] = set()  # items whose paid submit is out, its answer not yet in
        self.lock = threading.Lock()
        self.client: httpx.Client | None = None
        self.history_on = settings.history_enabled

    def start(self, work: queue.Queue[BatchItem], client: httpx.Client, count: int) -> None:
        self.client = client
        for n in range(count):
            thread = threading.Thread(target=self._loop, args=(work, client), name=f"genctl-batch-{n + 1}")
            thread.daemon = True
            thread.start()

    def _loop(self, work: queue.Queue[BatchItem], client: httpx.Client) -> None:
        while not self.stop.is_set():
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            try:
                outcome = self._one(item, client)
            except GenctlError as err:
                outcome = ItemOutcome(item, error=err)
            except BaseException as exc:  # a bug: raise it on the caller's thread, not lost in this one
                self.results.put(("crash", exc))
                return
            finally:
                with self.lock:
                    self.running.pop(item.number, None)
                    self.submitting.discard(item.number)
            self.results.put(("outcome", outcome))

    def _one(self, item: BatchItem, client: httpx.Client) -> ItemOutcome:

        if item.invalid is not None:
            raise item.invalid  # nothing is sent; not recorded, so --resume runs the line again
        request = item.request
        row = self.previous.get(item.identity)
        if row is not None:
            unsaved = request.download and bool(row.missing_outputs())
            if (row.status == "succeeded" and not unsaved) or (row.pending and not request.wait):
                return ItemOutcome(item, skipped=row)
            if row.pending or row.status == "succeeded":
                # Left behind by an earlier run (killed while it waited or downloaded): finish that job
                # rather than pay for a new one; one that was cancelled meanwhile did not succeed: run it.
                try:
                    found = recover(self.settings, row.request_id, output_dir=request.output_dir, wait=True)
                except GenctlError as err:
                    if err.code not in _STOPPED_CODES:
                        raise
                else:
                    return ItemOutcome(item, recovery=found)
        report = generate(
            self.settings,
            request,
            client=client,
            on_event=lambda event: self._event(item, event),
            on_notice=lambda message: self.results.put(("notice", message)),
        )
        return ItemOutcome(item, report=report)

    def _event(self, item: BatchItem, event: Event) -> None:
        if event.kind == "submitting":
            with self.lock:
                if self.stop.is_set():  # stopped while this item was checked or uploaded: pay nothing more
                    raise error(
                        "interrupted",
                        f"{item.title()} was not sent: the batch was stopped.",
                        fix="Run the same command with --resume: it runs the items that did not succeed.",
                    )
                self.submitting.add(item.number)
        elif event.kind == "submitted" and event.job is not None:
            with self.lock:
                self.submitting.discard(item.number)
                self.running[item.number] = event.job
        elif event.kind in ("key", "history") and event.message:
            self.results.put(("warning", event.message))
        elif event.kind == "retry" and event.message:
            self.results.put(("notice", f"{item.title()}: {event.message}"))

    def collect(
        self,
        total: int,
        on_outcome: Callable[[ItemOutcome], None],
        on_notice: Callable[[str], None] | None,
        on_warning: Callable[[str], None] | None,
    ) -> BatchSummary:
        outcomes: list[ItemOutcome] = []
        said: set[str] = set()
        try:
            while len(outcomes) < total:
                try:
                    kind, value = self.results.get(timeout=0.5)
                except queue.Empty:
                    continue
                if kind == "outcome":
                    outcomes.append(value)
                    on_outcome(value)
                elif kind == "crash":
                    self.stop.set()
                    raise value
                elif value not in said:
                    said.add(value)
                    tell = on_warning if kind == "warning" else on_notice
                    if tell is not None:
                        tell(value)
        except KeyboardInterrupt:  # Ctrl-C, or TERM / HUP / PIPE (genctl.cli makes them one)
            self.stop.set()
            raise self._interrupted(total, len(outcomes)) from None
        except BrokenPipeError:  # stdout's reader left (`| head -1`): the results cannot all be delivered
            self.stop.set()
            raise self._interrupted(total, len(outcomes), signum=_SIGPIPE) from None
        wait = all(o.item.request.wait for o in outcomes)
        return BatchSummary(outcomes, submitted_only=not wait)

    def _interrupted(self, total: int, done: int, *, signum: int | None = None) -> GenctlError:
        """Stopped: cancel the jobs still running (best effort, as `generate` does) and record each one
        cancelled as failed (`interrupted`), so `--resume` runs it again; a job whose cancel did not go
        through stays pending, for `--resume` to finish. Say what was left."""

        self._settle()
        with self.lock:
            running = list(self.running.values())
        cancelled = 0
        with limits.limit(CANCEL_ALL, f"the cancels' {CANCEL_ALL:g} s", fresh=True):
            for job in running:
                if self._cancel(job):
                    cancelled += 1
        left = total - done - len(running)
        return error(
            "interrupted",
            f"Interrupted: {done} of {total} items done, {cancelled} of {len(running)} running job(s) "
            f"cancelled, {left} not started.",
            fix="Run the same command with --resume: it runs only the items that did not succeed.",
            details={"signal": signum} if signum is not None else None,
        )

    def _settle(self) -> None:
        """Wait (SETTLE s at most) for the answers of submits already out: each one then has its job id, is
        recorded, and is cancelled with the rest. Left to the exit, such a submit stayed unconfirmed, and
        --resume could not tell a job that exists from one that was never sent."""
        end = time.monotonic() + SETTLE
        while time.monotonic() < end:
            with self.lock:
                if not self.submitting:
                    return
            time.sleep(0.01)

    def _cancel(self, job: Job) -> bool:
        keys = [k for k in self.settings.providers[job.provider].keys if k.label == job.key_label]
        if not keys or self.client is None:
            return False
        provider = get_provider(job.provider, self.settings.providers[job.provider])
        try:
            stopped = cancel(provider=provider, client=self.client, job=job, key=keys[0])
        except (GenctlError, OSError):
            return False  # best effort: history still has the job, pending, for --resume
        if stopped and self.history_on:
            # If this fails the row stays pending: --resume asks the provider, which says cancelled.
            with contextlib.suppress(sqlite3.Error, OSError):
                History().set_status(
                    job.provider,
                    job.request_id,
                    "failed",
                    error_code="interrupted",
                    error_message="interrupted; the remote job was cancelled",
                )
        return stopped
