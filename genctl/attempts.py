"""One attempt on one provider: upload the inputs, submit with the plan's key (another key only while the
provider refuses one, genctl.keys.failover), follow the job to its end, and keep history in step.

Once the provider has accepted a job nothing is retried with another key or provider: a second accepted job
could be charged twice. A submit whose answer was lost is recorded as unconfirmed, and its error names the
command that finds it (`genctl result --pending`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl import deadline as limits
from genctl.errors import GenctlError, error
from genctl.history.tracking import Tracker
from genctl.history.unconfirmed import cancel_lost
from genctl.inputs import resolve_inputs
from genctl.keys import pool_for
from genctl.keys.failover import Failover
from genctl.providers.base import Result
from genctl.runner import CANCELLED, Event, EventKind, answer_lost, cancel, run_generation, submit_only
from genctl.waiting import WaitPlan

if TYPE_CHECKING:
    import httpx

    from genctl.fallback import Attempt
    from genctl.history import History
    from genctl.plan import GenerationRequest, Plan
    from genctl.providers.base import Job
    from genctl.settings import Settings
    from genctl.values import Key

# Seconds a provider may hold the submit's answer until the job ends (Replicate's `Prefer: wait`, at most 60
# s): the result arrives the moment it exists, with no poll. Safe because the submit is recorded before it
# goes out (`genctl result --pending` finds a job whose held answer a killed process never read).
SUBMIT_HOLD = 60.0


def key_failover(
    settings: Settings,
    resolved: Plan,
    client: httpx.Client,
    *,
    deadline: float | None,
    on_event: Callable[[Event], None] | None,
) -> Failover:
    """The key side of this generation (genctl.keys.failover); its notices go out as events."""

    def notify(kind: EventKind, message: str) -> None:
        if on_event is not None:
            on_event(Event(kind, message=message))

    return Failover(
        pool_for(settings, resolved.provider.name),
        resolved.settings,
        client,
        deadline=deadline,
        notify=notify,
    )


def run(
    settings: Settings,
    resolved: Plan,
    failover: Failover,
    request: GenerationRequest,
    client: httpx.Client,
    *,
    dest: Path | None,
    history: History | None,
    threshold: int,
    on_event: Callable[[Event], None] | None,
    attempt: Attempt | None = None,
) -> tuple[Plan, Job, Result, bool]:
    """Upload inputs, submit and follow the job with the plan's key (acquired once, by `failover.first`),
    failing over between keys.

    Until the provider has accepted the job, a rejected or rate-limited key hands the same request to the
    key `genctl.keys.failover` picks. Once the job is accepted nothing is retried with another key: a second
    accepted job could be charged twice. An accepted job is in history from its "submitted" event on (before
    the first poll), and follows it to its end. With `request.wait` off the job is only submitted: the
    result is empty and `genctl result` fetches it later. The last item: whether the job is in history.

    A job whose state could not be read (`details.pending`: failed polls, an interrupt whose cancel did not
    go through) is not recorded as failed: it may still run, and `genctl result ID --wait` finishes it. If
    it is not in history that command cannot work, so it is cancelled instead.
    """

    def notify(kind: EventKind, message: str) -> None:
        if on_event is not None:
            on_event(Event(kind, message=message))

    tracker = Tracker(history, warn=lambda message: notify("history", message))
    key = resolved.key
    while True:
        accepted = sent = False
        params: dict[str, Any] = {}

        def track(event: Event) -> None:
            nonlocal accepted, sent
            if event.kind == "submitting":
                if on_event is not None:
                    on_event(event)  # first: a stopped batch refuses the submit here, before anything is sent
                sent = True
                tracker.sending(
                    provider=resolved.provider.name,
                    model=resolved.model,
                    key=key,  # noqa: B023 - this attempt's key: events come while the attempt runs
                    prompt=request.prompt,
                    params=resolved.params,
                    sent=params,  # noqa: B023 - this attempt's input, exactly as submitted
                    output_dir=dest,
                    batch=request.batch,
                )
            if event.kind == "submitted" and event.job is not None:
                accepted = True
                failover.pool.succeeded(key)  # noqa: B023 - an accepted job clears the key's cool-down
                if attempt is not None:
                    # genctl.fallback: never another provider after this, whatever fails later (even
                    # saving the outputs): a second job would be charged twice.
                    attempt.accepted = True
                tracker.submitted(
                    event.job,
                    key,  # noqa: B023 - this attempt's key: events come while the attempt runs
                    prompt=request.prompt,
                    params=resolved.params,
                    output_dir=dest,
                    batch=request.batch,
                )
            tracker.event(event)
            if on_event is not None and event.kind != "submitting":
                on_event(event)

        try:
            params = resolve_inputs(
                resolved.params,
                input_keys=list(resolved.input_keys),
                provider=resolved.provider,
                key=key,
                client=client,
                settings=resolved.settings,
                threshold=threshold,
            )
            if not request.wait:
                job = submit_only(
                    provider=resolved.provider,
                    client=client,
                    model=resolved.model,
                    params=params,
                    key=key,
                    deadline=failover.remaining(),
                    on_event=track,
                )
                return replace(resolved, key=key), job, Result(outputs=()), tracker.active
            job, result = run_generation(
                provider=resolved.provider,
                client=client,
                model=resolved.model,
                params=params,
                key=key,
                deadline=failover.remaining(),
                on_event=track,
                waiting=WaitPlan.for_provider(resolved.provider.name),
                hold=SUBMIT_HOLD,
            )
            tracker.succeeded(result)
            return replace(resolved, key=key), job, result, tracker.active
        except GenctlError as err:
            if accepted:
                if not err.details.get("pending"):
                    tracker.failed(err)
                elif not tracker.active and tracker.job is not None:
                    raise _cancelled_unrecorded(err, resolved, client, tracker.job, key) from err
                raise
            if sent and answer_lost(err):
                if attempt is not None:
                    attempt.accepted = True  # the job may exist: another provider could charge it twice
                if tracker.unconfirmed and err.code == "interrupted" and tracker.history is not None:
                    assert tracker.placeholder is not None
                    stopped = cancel_lost(
                        settings,
                        tracker.history,
                        tracker.placeholder,
                        key,
                        provider=resolved.provider,
                        client=client,
                    )
                    if stopped is not None:
                        raise stopped from err
                if tracker.unconfirmed:
                    raise _findable(err, resolved.provider.name) from err
                raise
            tracker.refused()
            if not Failover.handles(err):
                raise
            key = failover.after(key, err)


def _findable(err: GenctlError, provider: str) -> GenctlError:
    """A submit whose answer was lost, recorded as unconfirmed: the fix names the command that finds it."""
    return replace(
        err,
        fix=f"`genctl result --pending` finds the job in {provider}'s recent requests and saves its outputs; "
        "do not run it again before, or it may be paid for twice.",
    )


def _cancelled_unrecorded(
    err: GenctlError, resolved: Plan, client: httpx.Client, job: Job, key: Key
) -> GenctlError:
    """A pending job that history does not hold: `genctl result` could never finish it, so cancel it."""
    try:
        with limits.limit(5.0, "the cancel's 5 s", fresh=True):
            stopped = cancel(provider=resolved.provider, client=client, job=job, key=key)
        note = CANCELLED if stopped else "the remote job had already finished"
    except GenctlError as failure:
        note = f"cancelling it failed too ({failure.code}); cancel {job.request_id} on the provider"
    return error(
        err.code,
        f"{err.message.split(chr(10))[0]}\nThe job {job.request_id} is not in the history; {note}.",
        fix="Run the command again.",
        provider=err.provider,
        http_status=err.http_status,
        request_id=job.request_id,
        details={**err.details, "pending": False, "cancel": note},
    )
