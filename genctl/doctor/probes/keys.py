"""Doctor's key checks: each key's shape (local), then genctl.keys.check's free live probes read as Findings —
valid (account, balance, scope, rate-limit headroom) or why not — and what those probes cannot see:
Replicate billing (only a paid call shows a 402) and keys the rotation has set aside."""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from genctl import diagnose
from genctl.catalog import ONE_TRY
from genctl.diagnose import Finding
from genctl.doctor.probes import Check, DoctorContext, Probe
from genctl.doctor.probes.environment import masked_proxy
from genctl.http import proxy_for
from genctl.keys import timestamp
from genctl.keys.check import check_key as probe_key
from genctl.providers import registry

if TYPE_CHECKING:
    from genctl.keys import KeyView
    from genctl.providers.accounts import KeyCheck
    from genctl.values import Key

LOW_HEADROOM = 10  # ratelimit-remaining (Replicate) at or below this is worth a warning


def probes(ctx: DoctorContext) -> list[Probe]:
    found: list[Probe] = []
    for provider in ctx.providers:
        for key in ctx.settings.providers[provider].keys:
            template = Probe(f"keys.{provider}.{key.label}", "keys", provider, str(key))
            found.append(replace(template, run=partial(check_key, ctx, template, key)))
    return found


def shape_finding(key: Key) -> Finding | None:
    """What the key's text alone shows: certainly wrong (fail) or merely unusual (warn); None when fine."""
    where = key.described
    if (problem := key.problem_text()) is not None:
        return Finding("key.format", "fail", *problem)
    if (warning := key.shape_warning) is not None:
        return Finding(
            "key.format",
            "warn",
            f"{where} looks unusual ({warning}).",
            "Only a warning: check it was copied whole; the live check below says whether it works.",
        )
    return None


def check_key(ctx: DoctorContext, probe: Probe, key: Key) -> list[Check]:

    local = shape_finding(key)
    if ctx.offline or (local is not None and local.status == "fail"):  # such a key is never sent
        main = (
            local
            if local is not None and local.status == "fail"
            else diagnose.unchecked("key.invalid", f"validity not checked ({ctx.why_offline})")
        )
        verdict: KeyCheck | None = None
    else:
        assert ctx.client is not None
        verdict = probe_key(ctx.settings.providers[key.provider], key, ctx.client, policy=ONE_TRY)
        main = _merged(_verdict(ctx, key, verdict), local)
    checks = [probe.check(main)]
    if local is not None and local.status == "warn":
        checks.append(probe.check(local, aspect="format"))
    if verdict is not None and verdict.ok:
        checks += _account_checks(ctx, probe, key, verdict)
    if main.status != "fail" and (rotation := _rotation(ctx, key)) is not None:
        checks.append(probe.check(rotation, aspect="rotation"))
    return checks


def _verdict(ctx: DoctorContext, key: Key, verdict: KeyCheck) -> Finding:
    """The check's verdict; a refused connection through a proxy is the proxy's (as connectivity says)."""

    if verdict.error is not None and verdict.error.code == "network.connect":
        first_call = ctx.settings.providers[key.provider].urls["api_url"]  # where every key probe starts
        proxy, var = proxy_for(first_call)
        if proxy is not None:
            finding = diagnose.network_finding(verdict.error, proxy=masked_proxy(proxy), proxy_var=var)
            return finding.with_details(check=verdict.status)
    return diagnose.from_key_check(verdict)


def _merged(live: Finding, local: Finding | None) -> Finding:
    """The provider's verdict, unless the key's own text already says what is wrong with it (no colon, a token
    of the other provider): then that, with the provider's words kept in `provider_said`."""
    if local is None or local.status != "fail":
        return live
    return local.with_details(
        provider_said=live.message, **{k: v for k, v in live.details.items() if k != "check"}
    )


def _account_checks(ctx: DoctorContext, probe: Probe, key: Key, verdict: KeyCheck) -> list[Check]:
    checks: list[Check] = []
    if verdict.scope == "API":
        checks.append(
            probe.check(
                diagnose.skipped(
                    "key.scope",
                    "account and balance not shown: an API-scope key cannot read billing "
                    "(informational, not a failure).",
                    f"To see them here, use an ADMIN key ({registry.info(key.provider).key_page}); "
                    "API keys generate fine.",
                ),
                aspect="account",
            )
        )
    elif verdict.balance is not None and verdict.balance <= 0:
        money = f"{verdict.balance:.2f} {verdict.currency or ''}".rstrip()
        info = registry.info(key.provider)
        message = f"the balance of account {verdict.account or '?'} is {money}: {info.name} locks an account "
        message += "below its threshold, and a new key of the same account will not help."
        top_up = f"Top up at {info.billing_page.removeprefix('https://')}."
        checks.append(probe.check(Finding("billing.required", "warn", message, top_up), aspect="account"))
    if registry.info(key.provider).billing_unprobed:
        checks.append(probe.check(_billing(ctx, key), aspect="billing"))
    remaining = verdict.rate_limit_remaining
    if remaining is not None and remaining <= LOW_HEADROOM:
        message = f"only {remaining} requests left in this rate-limit window (ratelimit-remaining)."
        fix = "Slow down, or spread the work over keys of other accounts."
        checks.append(probe.check(Finding("rate.limited", "warn", message, fix), aspect="headroom"))
    return checks


def _billing(ctx: DoctorContext, key: Key) -> Finding:
    """Replicate billing: a free probe cannot see it (replicate-api.md §2.3: no free way to probe 402).
    The last paid call's 402, kept by the key rotation, is the best evidence; `--live` runs a paid one."""
    view = _view(ctx, key)
    if view is not None and view.state == "failed" and view.code == "billing.required":
        return Finding(
            "billing.required",
            "fail",
            f"the last paid call with {key} was refused{_since(view)}: {view.reason or 'HTTP 402'}",
            view.fix or f"Set up billing at {registry.info(key.provider).billing_page}#billing.",
        )
    if ctx.options.live:
        return diagnose.skipped(
            "billing.required", "billing: checked by the live generation (live.replicate)."
        )
    return diagnose.skipped(
        "billing.required",
        "billing not checked: Replicate shows a billing problem (HTTP 402) only on a paid call.",
        "`genctl doctor --live` runs one real generation per provider to check it.",
    )


def _rotation(ctx: DoctorContext, key: Key) -> Finding | None:
    """A key the rotation set aside after an earlier failure, though it may work now."""
    view = _view(ctx, key)
    if view is None or view.state == "usable" or view.code is None:
        return None
    what = "rate limited" if view.state == "cooling" else f"set aside ({view.code})"
    until = f", to be tried again at {_clock(view.until)}" if view.until else ""
    message = f"the key rotation has {key} {what}{_since(view)}{until}: {view.reason or 'no reason recorded'}"
    fix = "`genctl keys status --check` puts keys that pass back in rotation at once."
    return Finding(view.code, "warn", message, fix, {"state": view.state})


def _view(ctx: DoctorContext, key: Key) -> KeyView | None:
    return next((v for v in ctx.views(key.provider) if v.key == key), None)


def _since(view: KeyView) -> str:
    return f" at {_clock(view.since)}" if view.since else ""


def _clock(ts: float) -> str:

    return timestamp(ts, time.time())
