"""One generation end to end: choose provider, model and key, build the input, run the job, save outputs.

The CLI hands in what the user typed (`GenerationRequest`) and renders the `Event`s and the final
`GenerationReport`; everything in between happens here, with no Typer or Rich. The run on one provider —
upload, submit with key failover, follow, keep history in step — is genctl.attempts. Which providers a request
may run on, and when it moves on to the next, is genctl.fallback's policy; model aliases and the
translation of inputs between providers are genctl.aliases and genctl.translate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl import attempts, fallback, spend
from genctl import deadline as limits
from genctl.aliases import routes
from genctl.catalog import preflight
from genctl.cost import Cost
from genctl.download import SavedFile, check_destination
from genctl.errors import ModelError, error
from genctl.history import History
from genctl.history.tracking import Tracker
from genctl.http import full_url, make_client, shown_headers, to_curl
from genctl.inputs import dry_inputs
from genctl.keys import pool_for
from genctl.params import build_params, parse_input
from genctl.plan import GenerationRequest, Plan
from genctl.providers import registry
from genctl.providers.base import Result
from genctl.providers.factory import get_provider
from genctl.saving import save_one
from genctl.translate import adapter

if TYPE_CHECKING:
    import httpx

    from genctl.aliases import Route
    from genctl.download import SavedFile
    from genctl.fallback import Attempt, Failure
    from genctl.history import History
    from genctl.providers.base import Job, Result
    from genctl.runner import Event
    from genctl.settings import Settings
    from genctl.values import HttpRequest, Key


@dataclass(frozen=True)
class GenerationReport:
    """What a finished generation produced, ready for text or --json output."""

    provider: str
    model: str
    request_id: str
    outputs: list[SavedFile]
    seconds: float
    key: Key
    result: Result
    fallbacks: list[Failure] = field(default_factory=list)  # providers that failed before this one served it
    alias: str | None = None  # the alias -m named, if any
    cost: Cost | None = None  # what it cost (genctl.spend)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "provider": self.provider,
            "model": self.model,
            "request_id": self.request_id,
            "outputs": [
                {**o.to_json(), **({"value": r.value} if r.value is not None else {})}
                for o, r in zip(self.outputs, self.result.outputs, strict=False)
            ],
            "seconds": round(self.seconds, 3),
            "key": self.key.masked,
            "key_label": self.key.label,
            "alias": self.alias,
            "fallbacks": [f.to_json() for f in self.fallbacks],
            "cost": self.cost.to_json() if self.cost else None,
        }


def plan(
    settings: Settings, request: GenerationRequest, *, route: Route | None = None, peek: bool = True
) -> Plan:
    """Resolve provider, model, key and parameters for `route` (default: the first provider the request
    can run on, genctl.aliases.routes); nothing is sent (local input files are not read).

    `peek` names the key the pool would start with (a dry run shows it; the key state is read); without
    it the plan holds the provider's first key until the generation acquires its own (`_generate_on`).
    """

    route = route or routes(settings, model=request.model, provider=request.provider)[0]
    name, model = route.provider, route.model
    provider_settings = settings.providers[name]
    if not provider_settings.keys:
        info = registry.info(name)
        raise error(
            "key.missing",
            f"No {name} key is configured.",
            fix=f"export {info.key_env}=… (create one at {info.key_page}), or try it with no key: --sandbox.",
            provider=name,
        )
    # The alias's defaults (`[models."flux-dev"]`), then the model id's; translated with the -p values.
    defaults = dict(settings.model_params.get(route.alias.name, {})) if route.alias else {}
    defaults.update(settings.model_params.get(model, {}))
    params = build_params(prompt=request.prompt, defaults=defaults, params=request.params)
    input_keys: list[str] = []
    for item in request.inputs:
        key, value = parse_input(item)
        params[key] = value
        input_keys.append(key)
    return Plan(
        provider=get_provider(name, provider_settings),
        settings=provider_settings,
        model=model,
        # A peek: a dry run moves no rotation; a generation acquires its key once (`_generate_on`).
        key=(pool_for(settings, name).peek() if peek else None) or provider_settings.keys[0],
        params=params,
        input_keys=tuple(input_keys),
    )


@dataclass(frozen=True)
class DryRun:
    """The submit a generation would send (`--dry-run`); the key shows only as its env var name."""

    provider: str
    model: str
    request: HttpRequest

    def curl(self) -> str:
        return to_curl(self.request)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "dry_run": True,
            "provider": self.provider,
            "model": self.model,
            "method": self.request.method,
            "url": full_url(self.request),
            "headers": shown_headers(self.request),
            "body": self.request.json,
            "curl": self.curl(),
        }


def dry_run(
    settings: Settings, request: GenerationRequest, *, on_notice: Callable[[str], None] | None = None
) -> DryRun:
    """The exact submit request (first provider), to print as a curl line or JSON; the key is never shown.

    Sends nothing: the pre-flight check uses a cached schema only, not even the free schema GET.
    """

    if request.validate:
        preflight.check_name(request.model)
    route = fallback.chain(settings, request)[0]
    request = fallback.for_route(request, route)
    resolved = checked(settings, request, plan(settings, request, route=route), route, None, on_notice)
    price = spend.price_of(settings, resolved, None)  # a cached price only: a dry run sends nothing
    cost = spend.estimate(resolved, price)
    if on_notice is not None:
        on_notice(f"Estimated cost: {cost.text()}")
    spend.check_budget(cost, max_cost(settings, request), model=resolved.model, priced=price is not None)
    params = dry_inputs(
        resolved.params,
        input_keys=list(resolved.input_keys),
        threshold=settings.upload_threshold,
        storage=f"{registry.label(resolved.provider.name)} storage",
        on_notice=on_notice,
    )
    submit: HttpRequest = resolved.provider.submit_request(
        model=resolved.model, params=params, key=resolved.key
    )
    return DryRun(provider=resolved.provider.name, model=resolved.model, request=submit)


def generate(
    settings: Settings,
    request: GenerationRequest,
    *,
    on_event: Callable[[Event], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    client: httpx.Client | None = None,
) -> GenerationReport:
    """Run one generation and save its outputs; raises GenctlError on any failure.

    It runs on the first provider of `genctl.fallback.chain` that can serve it (`fallback.first_served`);
    `on_notice` hears each move to the next, and the report lists the providers that failed.
    `client`: an httpx client to share (a batch runs every item on one); by default one is made and closed.

    Before anything is sent, the pre-flight (genctl.catalog.preflight, unless `request.validate` is off)
    stops a text model, a versionless community model or input the model would reject; `on_notice` hears why a
    check was skipped. A model.* error the provider answers gets catalogue suggestions added.
    """

    started = clock()
    if request.validate:
        preflight.check_name(request.model)

    def run(route: Route, attempt: Attempt, left: float | None) -> GenerationReport:
        on_route = replace(request, timeout=left)
        return _generate_on(route, settings, on_route, attempt, on_event, on_bytes, on_notice, client)

    timeout = request.timeout if request.timeout is not None else settings.timeout
    chain = fallback.chain(settings, request)
    # The whole command's deadline, on the wall clock: pre-flight, uploads, submit, polls, download,
    # fallback and lock waits all end by it (genctl.deadline; every socket wait is capped at the time left).
    label = f"the {timeout:g} s deadline (--timeout)" if timeout is not None else ""
    with limits.limit(timeout, label, command=True):
        report, failures = fallback.first_served(
            chain,
            run,
            timeout=timeout,
            clock=clock,
            on_notice=on_notice,
            idle=fallback.idle(settings, request),
        )
    return replace(report, seconds=clock() - started, fallbacks=failures)


def _generate_on(
    route: Route,
    settings: Settings,
    request: GenerationRequest,
    attempt: Attempt,
    on_event: Callable[[Event], None] | None,
    on_bytes: Callable[[int], None] | None,
    on_notice: Callable[[str], None] | None,
    client: httpx.Client | None,
) -> GenerationReport:
    """The whole generation on one provider: plan, pre-flight, run, save."""

    request = fallback.for_route(request, route)
    resolved = plan(settings, request, route=route, peek=False)  # the key is acquired below
    deadline = request.timeout if request.timeout is not None else settings.timeout
    shared = nullcontext(client) if client is not None else None
    dest = (request.output_dir or settings.output_dir) if request.download else None
    history = _history(settings, request)
    with (
        shared
        or make_client(
            timeout=resolved.settings.timeout, connect_timeout=resolved.settings.connect_timeout
        ) as client,
        ExitStack() as stack,
    ):  # the stack closes first: the price look-up is done with the client
        failover = attempts.key_failover(settings, resolved, client, deadline=deadline, on_event=on_event)
        # The key is acquired once, here: the pre-flight reads the schema with it and the job is sent with it
        # (another key only when the provider refuses this one, genctl.keys.failover).
        resolved = replace(resolved, key=failover.first())
        with _advisory():
            resolved = checked(settings, request, resolved, route, client, on_notice)
        # The price is needed before the submit only for a budget; else it is looked up while the job runs.
        budgeted = request.budget is not None or max_cost(settings, request) is not None
        price = spend.price_of(settings, resolved, client) if budgeted else None
        lookup = None if budgeted else stack.enter_context(spend.PriceLookup(settings, resolved, client))
        estimate = spend.estimate(resolved, price)
        spend.admit(settings, request, resolved, estimate, priced=price is not None)
        if dest is not None and request.wait:
            check_destination(dest)  # before paying: a folder known to be unusable costs nothing
        try:
            resolved, job, result, recorded = attempts.run(
                settings,
                resolved,
                failover,
                request,
                client,
                dest=dest,
                history=history,
                threshold=settings.upload_threshold,
                on_event=lookup.starting(on_event) if lookup is not None else on_event,
                attempt=attempt,
            )
        except ModelError as err:
            with _advisory():
                better = preflight.explain(
                    err,
                    settings=settings,
                    model=resolved.model,
                    provider=resolved.provider.name,
                    key=resolved.key,
                    client=client,
                )
            if better is err:
                raise
            raise better from err
        outputs = _save_all(
            resolved,
            job,
            result,
            client,
            dest=dest,
            on_bytes=on_bytes,
            history=history if recorded else None,
        )
        if lookup is not None:
            price = lookup.result()
    cost = spend.actual(resolved, price, result) if request.wait else spend.estimate(resolved, price)
    spend.record(_history(settings, request) if recorded else None, job, cost)
    spend.settle(request, estimate, cost)
    return GenerationReport(
        provider=resolved.provider.name,
        model=resolved.model,
        request_id=job.request_id,
        outputs=outputs,
        seconds=0.0,  # generate() times the whole, fallbacks included
        key=resolved.key,
        result=result,
        alias=route.alias.name if route.alias else None,
        cost=cost,
    )


def max_cost(settings: Settings, request: GenerationRequest) -> float | None:
    """The budget of one generation: --max-cost, else [defaults] max_cost (None: none)."""
    return request.max_cost if request.max_cost is not None else settings.max_cost


def checked(
    settings: Settings,
    request: GenerationRequest,
    resolved: Plan,
    route: Route,
    client: httpx.Client | None,
    on_notice: Callable[[str], None] | None,
) -> Plan:
    """The plan's inputs translated for an alias's model (genctl.translate), then pre-flight checked once
    (genctl.catalog.preflight) unless `request.validate` is off. Without a client (a dry run) only a cached
    schema is used."""

    adapt = adapter(route)
    if not request.validate:
        return resolved if adapt is None else replace(resolved, params=adapt(None, resolved.params))
    return preflight.check(
        settings,
        request,
        resolved,
        client=client,
        cache_only=client is None,
        on_notice=on_notice,
        adapt=adapt,
    )


PREFLIGHT_LIMIT = 5.0  # seconds: the pre-flight is advisory; a hanging catalogue must not hold a generation


def _advisory() -> Any:
    """The pre-flight's own wall-clock limit (within the command's): past it the request goes unchecked."""
    return limits.limit(PREFLIGHT_LIMIT, f"the pre-flight's {PREFLIGHT_LIMIT:g} s")


def _history(settings: Settings, request: GenerationRequest) -> History | None:
    """The job history, unless the config (`[history] enabled = false`) or --no-history turns it off."""

    return History() if settings.history_enabled and request.history else None


def _save_all(
    resolved: Plan,
    job: Job,
    result: Result,
    client: httpx.Client,
    *,
    dest: Path | None,
    on_bytes: Callable[[int], None] | None,
    history: History | None = None,
) -> list[SavedFile]:
    """Download every output into `dest` (None: keep only the URLs), recording each in history as it lands.

    When saving fails — a full disk, an unwritable folder, a cut download — the job has still completed and
    its URLs are in history: the error says so, and how to fetch them (`genctl result ID -o OTHER_DIR`).
    """

    tracker = Tracker.of_job(history, job, result.outputs)
    saved: list[SavedFile] = []
    for index, output in enumerate(result.outputs, start=1):
        if dest is None or output.url is None:
            saved.append(SavedFile(url=output.url, path=None, content_type=output.content_type, bytes=0))
            continue
        file = save_one(
            client,
            output,
            job=job,
            index=index,
            outputs=result.outputs,
            dest=dest,
            tracker=tracker,
            headers=resolved.provider.download_headers(output.url, key=resolved.key),
            on_bytes=on_bytes,
        )
        saved.append(file)
    if dest is not None and result.outputs:
        tracker.all_saved(dest)
    return saved
