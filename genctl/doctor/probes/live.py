"""`genctl doctor --live`: one real, billed generation per provider, on the cheapest model that passed its
checks, with a key whose free checks passed — to catch what free probes cannot (a lock or a 402 that only
billable calls show). The outputs are downloaded into a temporary folder and deleted at once: the check
proves the whole path (submit, poll, result, download) and keeps nothing."""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl import diagnose
from genctl.doctor.probes import Check, DoctorContext, Probe
from genctl.download import save_output
from genctl.errors import GenctlError
from genctl.params import build_params
from genctl.providers import registry
from genctl.providers.factory import get_provider
from genctl.runner import run_generation

if TYPE_CHECKING:
    from genctl.values import Key

LIVE_PROMPT = "a small red circle on a white background"
MIN_DEADLINE = (
    120.0  # seconds a live generation may take (more when --timeout is large), then it is cancelled
)


def probes(ctx: DoctorContext) -> list[Probe]:
    """A late source: it reads the phase-one key and model checks in `ctx.checks`."""
    if not ctx.options.live or ctx.offline:
        return []
    found: list[Probe] = []
    for provider in ctx.providers:
        model = cheapest_model(ctx, provider)
        key = usable_key(ctx, provider)
        template = Probe(f"live.{provider}", "live", provider, model or registry.label(provider))
        found.append(replace(template, run=partial(run_live, ctx, template, model, key)))
    return found


def usable_key(ctx: DoctorContext, provider: str) -> Key | None:
    """The first key (rotation order) whose free live check passed."""
    for key in ctx.keys(provider):
        check = ctx.check(f"keys.{provider}.{key.label}")
        if check is not None and check.finding.status in ("ok", "warn"):
            return key
    return None


def cheapest_model(ctx: DoctorContext, provider: str) -> str | None:
    """The model with the lowest known unit price among those whose checks passed (unknown prices last)."""
    passed: list[tuple[float, int, str]] = []
    for index, check in enumerate(ctx.checks):
        if check.category != "models" or check.provider != provider:
            continue
        if check.id != f"models.{provider}.{check.subject}" or check.finding.status != "ok":
            continue
        params = ctx.check(f"{check.id}.params")
        if params is not None and params.finding.status == "fail":
            continue
        price = check.finding.details.get("price")
        amount = float(price["amount"]) if isinstance(price, dict) else math.inf
        passed.append((amount, index, check.subject))
    return min(passed)[2] if passed else None


def run_live(ctx: DoctorContext, probe: Probe, model: str | None, key: Key | None) -> list[Check]:

    provider = probe.provider or ""
    if key is None:
        message = f"no live generation: no {registry.label(provider)} key passed its checks"
        return [probe.check(diagnose.skipped("key.invalid", message, "Fix the keys above first."))]
    if model is None:
        message = f"no live generation: no {registry.label(provider)} model passed its checks"
        return [
            probe.check(
                diagnose.skipped("model.not_found", message, "Fix the models above, or pass -m MODEL.")
            )
        ]
    assert ctx.client is not None
    settings = ctx.settings
    params = build_params(prompt=LIVE_PROMPT, defaults=dict(settings.model_params.get(model, {})), params=[])
    runner = get_provider(provider, settings.providers[provider])
    facts: dict[str, Any] = {"model": model, "key": key.label}
    started = time.monotonic()
    try:
        job, result = run_generation(
            provider=runner,
            client=ctx.client,
            model=model,
            params=params,
            key=key,
            deadline=max(MIN_DEADLINE, ctx.options.timeout * 6),
            sleep=ctx.sleep,
        )
        size = 0
        with tempfile.TemporaryDirectory(prefix="genctl-doctor-") as folder:
            for index, output in enumerate(result.outputs, start=1):
                if output.url is None:
                    continue
                headers = runner.download_headers(output.url, key=key)
                saved = save_output(
                    ctx.client,
                    output,
                    dest_dir=Path(folder),
                    model=model,
                    request_id=job.request_id,
                    index=index,
                    headers=headers,
                )
                size += saved.bytes
    except GenctlError as err:
        return [probe.check(diagnose.from_error(err).with_details(**facts))]
    seconds = time.monotonic() - started
    outputs = len(result.outputs)
    message = (
        f"generated {outputs} output{'s' if outputs != 1 else ''} with {key} in {seconds:.1f} s "
        f"(request {job.request_id}); {size} bytes downloaded, not kept"
    )
    finding = diagnose.ok(message, request_id=job.request_id, outputs=outputs, bytes=size, **facts)
    return [probe.check(finding)]
