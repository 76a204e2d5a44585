"""One diagnosis, everywhere: errors and probe results as Findings (code, status, message, fix, details).

`from_error` is the one mapping from a GenctlError to a Finding. `genctl generate` renders its failure
through it (cli/output.py), `genctl keys status --check` renders each key's verdict through
`from_key_check`, and every `genctl doctor` check is a Finding: a problem reads the same — code, message,
fix — whichever command met it.

The diagnosis codes: `CODES` below is the public list (README, DESIGN.md). The table itself is defined in
genctl.errors, because GenctlError checks every code against it when it is raised and errors.py is imported
by everything (this module imports errors, so errors cannot import it back); `CODES` is that very object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from genctl.errors import CODES as _CODES
from genctl.errors import WARNINGS, GenctlError
from genctl.http import redact

if TYPE_CHECKING:
    from genctl.providers.accounts import KeyCheck
    from genctl.values import Key

__all__ = [
    "CODES",
    "DIAGNOSIS_CODES",
    "Finding",
    "Status",
    "from_error",
    "from_key_check",
    "network_finding",
    "ok",
    "priority",
    "skipped",
    "worst",
]

CODES: dict[str, tuple[int, str]] = _CODES  # diagnosis code -> (exit code, one-line meaning)
DIAGNOSIS_CODES: tuple[str, ...] = (*CODES, *WARNINGS)  # every code a finding may carry
OK_CODE = "ok"  # the code of a Finding that found nothing wrong
# The code of a check that was not made at all (--offline, no HTTP client): it found nothing, good or bad;
# `details["unchecked"]` names what it would have looked for.
SKIPPED_CODE = "skipped"

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")
_SEVERITY: dict[str, int] = {"ok": 0, "skip": 1, "warn": 2, "fail": 3}
HEADINGS: dict[str, str] = {"fail": "Error", "warn": "Warning", "skip": "Skipped", "ok": "OK"}

# Met by a probe, these say "not now", not "broken": the key or host works once the limit resets.
_WARN_CODES = frozenset({"rate.limited"})

# Which problem to fix first: nothing works without the network, then the config, then keys, then models.
_PRIORITY_PREFIXES: tuple[tuple[str, ...], ...] = (
    ("network.", "blocked.cloudflare", "provider.unavailable"),
    ("config.", "usage."),
    ("key.missing", "key.format", "key.invalid", "key.locked", "billing.required"),
    ("key.scope",),
    ("model.",),
    ("payload.", "content."),
    ("rate.limited",),
)


@dataclass(frozen=True)
class Finding:
    """What one check found: a diagnosis code (or "ok"), how bad it is, the provider's words and the fix."""

    code: str
    status: Status
    message: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in (OK_CODE, SKIPPED_CODE) and self.code not in CODES and self.code not in WARNINGS:
            raise ValueError(f"unknown diagnosis code {self.code!r}")
        if self.status not in _SEVERITY:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def problem(self) -> bool:
        """A warning or a failure: what `doctor found N problems` counts."""
        return self.status in ("warn", "fail")

    def headline(self, heading: str | None = None) -> str:
        """`Error [key.locked]: fal locked the account of …` — the first line wherever it is shown."""
        return f"{heading or HEADINGS[self.status]} [{self.code}]: {self.message}"

    def with_details(self, **extra: Any) -> Finding:
        return replace(self, details={**self.details, **extra})

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
            "details": self.details,
        }


def ok(message: str, **details: Any) -> Finding:
    """Nothing wrong."""
    return Finding(OK_CODE, "ok", message, details=details)


def skipped(code: str, message: str, fix: str = "", **details: Any) -> Finding:
    """Not checked; `code` names what could not be checked (e.g. billing.required for Replicate billing)."""
    return Finding(code, "skip", message, fix, details)


def unchecked(would: str, message: str, fix: str = "", **details: Any) -> Finding:
    """A check not made (--offline): no diagnosis code, since nothing was found; `would` names the code it
    looks for, in `details["unchecked"]`."""
    return Finding(SKIPPED_CODE, "skip", message, fix, {"unchecked": would, **details})


def from_error(err: GenctlError, *, status: Status | None = None) -> Finding:
    """The Finding of an error: its code, message and fix unchanged; provider, HTTP status, request id in
    `details`. A failure, except a rate limit met while probing (a warning: the key works once it resets)."""
    details: dict[str, Any] = dict(err.details)
    for name, value in (
        ("provider", err.provider),
        ("http_status", err.http_status),
        ("request_id", err.request_id),
    ):
        if value is not None:
            details[name] = value
    chosen: Status = status or ("warn" if err.code in _WARN_CODES else "fail")
    return Finding(err.code, chosen, err.message, err.fix, details)


def from_key_check(check: KeyCheck) -> Finding:
    """A live key check's verdict (genctl.keys.check) as a Finding: "valid" with what the provider told about
    the account, or the provider's refusal as `from_error` maps it (network errors included)."""
    facts = {
        name: value
        for name, value in check.to_json().items()
        if name not in ("status", "code", "message") and value not in (None, [])
    }
    if check.error is not None:
        return from_error(check.error).with_details(check=check.status, **facts)
    return ok(valid_summary(check), check=check.status, **facts)


def valid_summary(check: KeyCheck) -> str:
    """What a passing key check learnt, in one line: `valid, account acme, balance 24.50 USD, scope ADMIN`."""
    parts = ["valid"]
    if check.account:
        parts.append(f"account {check.account}")
    if check.balance is not None:
        parts.append(f"balance {check.balance:.2f} {check.currency or ''}".rstrip())
    if check.scope:
        parts.append(f"scope {check.scope}")
    if check.rate_limit_remaining is not None:
        parts.append(f"rate-limit headroom {check.rate_limit_remaining} requests")
    return ", ".join(parts)


def network_finding(err: GenctlError, *, proxy: str | None = None, proxy_var: str | None = None) -> Finding:
    """A connectivity probe's transport failure, as genctl.http mapped it (a refused connection through a
    proxy is already network.proxy there), with the proxy in use (credentials masked) in the details."""
    finding = from_error(err)
    if proxy:
        return finding.with_details(proxy=proxy, proxy_var=proxy_var)
    return finding


def priority(code: str) -> int:
    """Lower first: the order root causes and fixes are listed in (network, config, keys, models, …)."""
    for rank, prefixes in enumerate(_PRIORITY_PREFIXES):
        if code.startswith(prefixes):
            return rank
    return len(_PRIORITY_PREFIXES)


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe of `statuses` (fail > warn > skip > ok); ok for none."""
    found: Status = "ok"
    for status in statuses:
        if _SEVERITY[status] > _SEVERITY[found]:
            found = status
    return found


def scrubbed(finding: Finding, keys: Iterable[Key]) -> Finding:
    """`finding` with every secret of `keys` masked in its message, fix and details (belt and braces: the
    provider mappings already mask the key they were given, but a body may quote another one)."""

    keys = list(keys)
    message, fix = redact(finding.message, keys), redact(finding.fix, keys)
    text = json.dumps(finding.details, default=str)
    cleaned = redact(text, keys)
    details = json.loads(cleaned) if cleaned != text else finding.details
    if (message, fix, details) == (finding.message, finding.fix, finding.details):
        return finding
    return replace(finding, message=message, fix=fix, details=details)
