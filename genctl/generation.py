"""One generation end to end: choose provider, model and key, build the input, run the job, save outputs.

The CLI hands in what the user typed (`GenerationRequest`) and renders the `Event`s and the final
`GenerationReport`; everything in between happens here, with no Typer or Rich.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl.errors import GenctlError, ModelError, error, usage
from genctl.params import build_params, parse_input

if TYPE_CHECKING:
    import httpx

    from genctl.config import ProviderSettings, Settings
    from genctl.download import SavedFile
    from genctl.keys import Key
    from genctl.providers.base import HttpRequest, Job, Provider, Result
    from genctl.runner import Event

# Used when neither -m nor the config names a model: cheap, fast, on both providers.
DEFAULT_MODELS = {"fal": "fal-ai/flux/schnell", "replicate": "black-forest-labs/flux-schnell"}
KEY_ENV = {"fal": "FAL_KEY", "replicate": "REPLICATE_API_TOKEN"}
KEY_PAGES = {"fal": "https://fal.ai/dashboard/keys", "replicate": "https://replicate.com/account/api-tokens"}


@dataclass(frozen=True)
class GenerationRequest:
    """What the user asked for, as typed."""

    prompt: str | None
    model: str | None = None
    provider: str | None = None
    params: list[str] = field(default_factory=list)  # raw `-p` items
    inputs: list[str] = field(default_factory=list)  # raw `-i` items
    output_dir: Path | None = None
    download: bool = True
    timeout: float | None = None
    validate: bool = True  # the pre-flight check against the model's catalogue entry and input schema


@dataclass(frozen=True)
class Plan:
    """The resolved request: which provider, model, key and input will be sent."""

    provider: Provider
    settings: ProviderSettings
    model: str
    key: Key  # the next key in rotation; after a generation, the key that served it
    params: dict[str, Any]


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
        }


def choose_provider(settings: Settings, request: GenerationRequest) -> str:
    """--provider, else what the model id says, else the config default, else fal."""
    from genctl.providers import detect_provider

    if request.provider:
        if request.provider not in ("fal", "replicate"):
            raise usage(
                f"Unknown provider {request.provider!r}.", fix="Use --provider fal or --provider replicate."
            )
        return request.provider
    if request.model:
        detected = detect_provider(request.model)
        if detected:
            return detected
    return settings.provider or "fal"


def plan(settings: Settings, request: GenerationRequest) -> Plan:
    """Resolve provider, model, key and parameters; nothing is sent (local input files are not read)."""
    from genctl.keys import pool_for
    from genctl.providers import get_provider

    name = choose_provider(settings, request)
    provider_settings = settings.providers[name]
    model = request.model or settings.models.get("image") or DEFAULT_MODELS[name]
    if not provider_settings.keys:
        env = KEY_ENV[name]
        raise error(
            "key.missing",
            f"No {name} key is configured.",
            fix=f"export {env}=… (create one at {KEY_PAGES[name]}), or try it with no key: --sandbox.",
            provider=name,
        )
    params = build_params(
        prompt=request.prompt, defaults=dict(settings.model_params.get(model, {})), params=request.params
    )
    for item in request.inputs:
        key, value = parse_input(item)
        params[key] = value
    return Plan(
        provider=get_provider(name, provider_settings),
        settings=provider_settings,
        model=model,
        # A peek: only a generation that sends moves the rotation on (dry runs don't).
        key=pool_for(settings, name).peek() or provider_settings.keys[0],
        params=params,
    )


def dry_run(
    settings: Settings, request: GenerationRequest, *, on_notice: Callable[[str], None] | None = None
) -> str:
    """The exact submit request as a curl line, key replaced by its env var name. Sends nothing.

    The pre-flight check uses a cached schema only: a dry run sends nothing, not even the free schema GET.
    """
    from genctl import preflight
    from genctl.http import to_curl

    if request.validate:
        preflight.check_name(request.model)
    resolved = plan(settings, request)
    if request.validate:
        resolved = preflight.check(settings, request, resolved, cache_only=True, on_notice=on_notice)
    submit: HttpRequest = resolved.provider.submit_request(
        model=resolved.model, params=resolved.params, key=resolved.key
    )
    return to_curl(submit)


def generate(
    settings: Settings,
    request: GenerationRequest,
    *,
    on_event: Callable[[Event], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> GenerationReport:
    """Run one generation and save its outputs; raises GenctlError on any failure.

    Before anything is sent, the pre-flight (genctl.preflight, unless `request.validate` is off) stops a
    text model, a versionless community model or input the model would reject; `on_notice` hears why a
    check was skipped. A model.* error the provider answers gets catalogue suggestions added.
    """
    from genctl import preflight
    from genctl.http import make_client

    started = clock()
    if request.validate:
        preflight.check_name(request.model)
    resolved = plan(settings, request)
    deadline = request.timeout if request.timeout is not None else settings.timeout
    with make_client(
        timeout=resolved.settings.timeout, connect_timeout=resolved.settings.connect_timeout
    ) as client:
        if request.validate:
            resolved = preflight.check(settings, request, resolved, client=client, on_notice=on_notice)
        try:
            resolved, job, result = _run(
                resolved, settings, request, client, deadline=deadline, on_event=on_event
            )
        except ModelError as err:
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
            dest=(request.output_dir or settings.output_dir) if request.download else None,
            on_bytes=on_bytes,
        )
    return GenerationReport(
        provider=resolved.provider.name,
        model=resolved.model,
        request_id=job.request_id,
        outputs=outputs,
        seconds=clock() - started,
        key=resolved.key,
        result=result,
    )


def _run(
    resolved: Plan,
    settings: Settings,
    request: GenerationRequest,
    client: httpx.Client,
    *,
    deadline: float | None,
    on_event: Callable[[Event], None] | None,
) -> tuple[Plan, Job, Result]:
    """Upload inputs, submit and follow the job with the next key in rotation, failing over between keys.

    Until the provider has accepted the job, a rejected or rate-limited key hands the same request to the
    key `genctl.failover` picks. Once the job is accepted nothing is retried with another key: a second
    accepted job could be charged twice.
    """
    from genctl.failover import Failover
    from genctl.inputs import resolve_inputs
    from genctl.keys import pool_for
    from genctl.runner import Event, EventKind, run_generation

    def notify(kind: EventKind, message: str) -> None:
        if on_event is not None:
            on_event(Event(kind, message=message))

    failover = Failover(
        pool_for(settings, resolved.provider.name),
        resolved.settings,
        client,
        deadline=deadline,
        notify=notify,
    )
    key = failover.first()
    while True:
        accepted = False

        def track(event: Event) -> None:
            nonlocal accepted
            accepted = accepted or event.kind == "submitted"
            if on_event is not None:
                on_event(event)

        try:
            params = resolve_inputs(
                resolved.params,
                input_keys=[parse_input(item)[0] for item in request.inputs],
                provider=resolved.provider,
                key=key,
                client=client,
                settings=resolved.settings,
                threshold=settings.upload_threshold,
            )
            job, result = run_generation(
                provider=resolved.provider,
                client=client,
                model=resolved.model,
                params=params,
                key=key,
                deadline=failover.remaining(),
                on_event=track,
            )
            return replace(resolved, key=key), job, result
        except GenctlError as err:
            if accepted or not Failover.handles(err):
                raise
            key = failover.after(key, err)


def _save_all(
    resolved: Plan,
    job: Job,
    result: Result,
    client: httpx.Client,
    *,
    dest: Path | None,
    on_bytes: Callable[[int], None] | None,
) -> list[SavedFile]:
    """Download every output into `dest` (None: keep only the URLs)."""
    from genctl.download import SavedFile, save_output

    saved: list[SavedFile] = []
    for index, output in enumerate(result.outputs, start=1):
        if dest is None or output.url is None:
            saved.append(SavedFile(url=output.url, path=None, content_type=output.content_type, bytes=0))
            continue
        saved.append(
            save_output(
                client,
                output,
                dest_dir=dest,
                model=resolved.model,
                request_id=job.request_id,
                index=index,
                headers=resolved.provider.download_headers(output.url, key=resolved.key),
                on_bytes=on_bytes,
            )
        )
    return saved
