"""`genctl doctor`'s engine: gather probes from the sources, run them at once on a bounded pool of threads
(every HTTP call with the probe timeout, the whole phase with a deadline), collect their Checks.

Adding a check: write a source — a function `(DoctorContext) -> Iterable[Probe]` (genctl.doctor.probes) —
and append it to `SOURCES`; to `LATE_SOURCES` instead when it needs the phase-one results in `ctx.checks`
(like `--live`, which picks the cheapest model that passed). Each Probe's `run()` returns its Checks, or
raises a GenctlError that becomes a failed Check; the report, JSON and exit code need nothing more.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, wait
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from genctl import diagnose
from genctl.diagnose import Finding
from genctl.doctor.probes import (
    CATEGORIES,
    Check,
    DoctorContext,
    DoctorOptions,
    Probe,
    aliases,
    environment,
    install_recorder,
    keys,
    live,
    models,
    network,
    start_recording,
    stop_recording,
)
from genctl.errors import GenctlError
from genctl.http import make_client
from genctl.providers import registry
from genctl.timefmt import seconds

if TYPE_CHECKING:
    from genctl.settings import Settings

ProbeSource = Callable[[DoctorContext], Iterable[Probe]]
SOURCES: list[ProbeSource] = [
    environment.probes,
    network.probes,
    keys.probes,
    models.probes,
    aliases.prefetch,
]
LATE_SOURCES: list[ProbeSource] = [live.probes, aliases.probes]
CANCEL_GRACE = 8.0  # seconds Ctrl-C waits for probes to cancel what they started
MAX_WORKERS = 32  # probes at once: each mostly waits on the network (6 + 2 keys, 5 models: one wave)
Progress = Callable[[int, int], None]  # (probes done, probes in all)


@dataclass(frozen=True)
class DoctorReport:
    """Every check, in display order, and what they add up to."""

    checks: tuple[Check, ...]
    seconds: float
    strict: bool = False  # warnings count as failures

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(diagnose.STATUSES, 0)
        for check in self.checks:
            counts[check.finding.status] += 1
        return counts

    @property
    def ok(self) -> bool:
        failing = ("fail", "warn") if self.strict else ("fail",)
        return not any(check.finding.status in failing for check in self.checks)

    @property
    def problems(self) -> list[Check]:
        return [check for check in self.checks if check.finding.problem]

    def areas(self) -> dict[tuple[str, str | None], list[Check]]:
        """Checks grouped by (category, provider), in display order: the `[✓] Keys · fal.ai` blocks."""
        groups: dict[tuple[str, str | None], list[Check]] = {}
        for check in self.checks:
            groups.setdefault((check.category, check.provider), []).append(check)
        return groups

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary(), "checks": [c.to_json() for c in self.checks]}


def run_doctor(
    settings: Settings,
    options: DoctorOptions,
    *,
    load_error: GenctlError | None = None,
    strict: bool = False,
    on_progress: Progress | None = None,
) -> DoctorReport:
    """Run every check; never raises for what it finds (that is the report), only for bugs."""

    started = time.monotonic()
    with ExitStack() as stack:
        client, client_error = None, None
        if not options.offline:
            try:
                client = make_client(timeout=options.timeout, connect_timeout=options.timeout)
            except GenctlError as err:  # network.tls: a SSL_CERT_FILE / SSL_CERT_DIR naming nothing usable
                client_error = err
            else:
                install_recorder(stack.enter_context(client))
        ctx = DoctorContext(settings, options, client=client, load_error=load_error)
        ctx.client_error = client_error
        ctx.providers = active_providers(settings, options)
        first = [probe for source in SOURCES for probe in source(ctx)]
        # Backstop: a probe makes a few calls one after another, each bounded by the timeout.
        checks = _run_all(ctx, first, started, budget=options.timeout * 3 + 2, on_progress=on_progress)
        ctx.checks = list(checks)
        late = [probe for source in LATE_SOURCES for probe in source(ctx)]
        if late:
            budget = max(live.MIN_DEADLINE, options.timeout * 6) + options.timeout * 2
            checks += _run_all(ctx, late, started, budget=budget, on_progress=on_progress)
    every_key = [key for provider in settings.providers.values() for key in provider.keys]
    cleaned = tuple(replace(c, finding=diagnose.scrubbed(c.finding, every_key)) for c in _ordered(checks))
    return DoctorReport(cleaned, time.monotonic() - started, strict)


def active_providers(settings: Settings, options: DoctorOptions) -> tuple[str, ...]:
    """The providers worth probing: --provider; else those with keys or with a model to check; else both."""
    if options.provider_flag:
        return (options.provider_flag,)
    wanted = {p for p in options.providers if settings.providers[p].keys}
    wanted |= {item.provider for item in models.models_to_check(settings, options)}
    return tuple(p for p in registry.NAMES if p in wanted) or options.providers


def _run_all(
    ctx: DoctorContext,
    probes: list[Probe],
    started: float,
    *,
    budget: float,
    on_progress: Progress | None,
) -> list[Check]:
    if not probes:
        return []
    done_count = [0]

    def tick(_: Future[list[Check]]) -> None:
        done_count[0] += 1
        if on_progress is not None:
            on_progress(done_count[0], len(probes))

    futures = _start_daemons([functools.partial(_run_probe, ctx, probe, started) for probe in probes])
    for future in futures:
        future.add_done_callback(tick)
    try:
        finished, _ = wait(futures, timeout=budget)
    except KeyboardInterrupt:
        # Ctrl-C: a --live probe may hold a paid job. Tell the probes to stop and give them the time to
        # send its cancel (the runner's cancel call is bounded) before the process exits.
        ctx.stop.set()
        wait(futures, timeout=CANCEL_GRACE)
        raise
    finally:
        for future in futures:
            future.cancel()  # not started yet: never will be
    checks: list[Check] = []
    for probe, future in zip(probes, futures, strict=True):
        if future in finished:
            checks += future.result()
        else:
            checks.append(probe.check(_overdue(probe, budget)))
    return checks


def _start_daemons(work: list[Callable[[], list[Check]]]) -> list[Future[list[Check]]]:
    """Run `work` on up to MAX_WORKERS daemon threads. Daemons, not a ThreadPoolExecutor (whose threads
    the interpreter joins at exit): a probe abandoned past the deadline must not keep the process alive."""
    futures: list[Future[list[Check]]] = [Future() for _ in work]
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(work)):
        todo.put(index)

    def worker() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            future = futures[index]
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work[index]())
            except BaseException as exc:  # re-raised by future.result() on the caller's thread
                future.set_exception(exc)

    for n in range(min(MAX_WORKERS, len(work))):
        threading.Thread(target=worker, name=f"genctl-doctor-{n + 1}", daemon=True).start()
    return futures


def _run_probe(ctx: DoctorContext, probe: Probe, started: float) -> list[Check]:
    start_recording()
    began = time.monotonic()
    try:
        checks = probe.run()
    except GenctlError as err:
        checks = [probe.check(diagnose.from_error(err))]
    finally:
        exchanges = stop_recording()
    if not checks:
        return []
    timing: dict[str, Any] = {
        "started_ms": round((began - started) * 1000),
        "elapsed_ms": round((time.monotonic() - began) * 1000),
    }
    if exchanges:
        timing["http"] = exchanges
    head = checks[0]
    return [replace(head, finding=head.finding.with_details(**timing)), *checks[1:]]


def _overdue(probe: Probe, budget: float) -> Finding:
    return Finding(
        "network.timeout",
        "fail",
        f"{probe.subject}: the check did not finish within {seconds(budget)}.",
        "Check your connection, or raise --timeout.",
    )


def _ordered(checks: list[Check]) -> list[Check]:
    """Display order: by category, then provider (fal, Replicate), keeping each probe's own order."""
    rank = {name: n for n, name in enumerate(CATEGORIES)}
    providers: dict[str | None, int] = {None: 0, **{name: n + 1 for n, name in enumerate(registry.NAMES)}}
    return sorted(checks, key=lambda c: (rank.get(c.category, len(rank)), providers.get(c.provider, 9)))
