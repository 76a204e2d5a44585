"""One generation end to end: choose provider, model and key, build the input, run the job, save outputs.

The CLI hands in what the user typed (`GenerationRequest`) and renders the `Event`s and the final
`GenerationReport`; everything in between happens here, with no Typer or Rich.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl.errors import error, usage
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


@dataclass(frozen=True)
class Plan:
    """The resolved request: which provider, model, key and input will be sent."""

    provider: Provider
    settings: ProviderSettings
    model: str
    key: Key
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
        key=provider_settings.keys[0],
        params=params,
    )


def dry_run(settings: Settings, request: GenerationRequest) -> str:
    """The exact submit request as a curl line, key replaced by its env var name. Sends nothing."""
    from genctl.http import to_curl

    resolved = plan(settings, request)
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
    clock: Callable[[], float] = time.monotonic,
) -> GenerationReport:
    """Run one generation and save its outputs; raises GenctlError on any failure."""
    from genctl.http import make_client
    from genctl.inputs import resolve_inputs

    started = clock()
    resolved = plan(settings, request)
    deadline = request.timeout if request.timeout is not None else settings.timeout
    with make_client(
        timeout=resolved.settings.timeout, connect_timeout=resolved.settings.connect_timeout
    ) as client:
        params = resolve_inputs(
            resolved.params,
            input_keys=[parse_input(item)[0] for item in request.inputs],
            provider=resolved.provider,
            key=resolved.key,
            client=client,
            settings=resolved.settings,
            threshold=settings.upload_threshold,
        )
        job, result = _run(resolved, params, client, deadline=deadline, on_event=on_event)
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
    params: dict[str, Any],
    client: httpx.Client,
    *,
    deadline: float | None,
    on_event: Callable[[Event], None] | None,
) -> tuple[Job, Result]:
    """Submit the job and follow it to its result."""
    from genctl.runner import run_generation

    return run_generation(
        provider=resolved.provider,
        client=client,
        model=resolved.model,
        params=params,
        key=resolved.key,
        deadline=deadline,
        on_event=on_event,
    )


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
