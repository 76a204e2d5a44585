"""The one error tree: every failure is a GenctlError with a diagnosis code, a fix and an exit code.

```
GenctlError                      exit  codes
├── UsageError                     2   usage.invalid, config.invalid
├── CredentialError                3   key.missing, key.format, key.invalid, key.locked, key.scope,
│                                      billing.required
├── ModelError                     4   model.not_found, model.wrong_kind, model.needs_version
├── PayloadError                   5   payload.invalid, content.policy
├── RateLimitError                 6   rate.limited
├── UnavailableError               7   network.dns, network.connect, network.tls, network.timeout,
│                                      network.proxy, provider.unavailable, blocked.cloudflare,
│                                      generation.timeout, config.locked
├── GenerationError                1   generation.failed, generation.canceled, generation.aborted,
│                                      output.expired
├── BudgetError                    8   budget.exceeded, budget.unknown
└── Interrupted                  130   interrupted
```

Raise with `error(code, message, fix=…)`: it picks the class from the code, so the exit code always follows
the diagnosis code. The table `CODES` is the stable public list (README, DESIGN.md); `WARNINGS` lists the
codes that only ever warn (a doctor finding, a notice) and so have no exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# exit code -> what it means (README "Exit codes", `genctl help exit-codes`).
EXIT_MEANINGS: dict[int, str] = {
    0: "success",
    1: "the generation itself failed; `genctl doctor`: a check failed (`--strict`: or warned)",
    2: "usage or config error",
    3: "credentials",
    4: "model",
    5: "input rejected",
    6: "rate limited after retries and key rotation",
    7: "unreachable or unavailable",
    8: (
        "over budget: the estimate exceeds `--max-cost` / `[defaults] max_cost`, or cannot be made; "
        "nothing was sent"
    ),
    130: "interrupted (Ctrl-C); the remote job was cancelled",
}

# Codes that only warn: never raised, never an exit code (README: "Diagnosis codes", exit "—").
WARNINGS: dict[str, str] = {
    "config.permissions": "a file holding keys is readable by others (a warning: chmod 600 fixes it)",
}

# code -> (exit code, one-line meaning). Stable strings: scripts match on them.
CODES: dict[str, tuple[int, str]] = {
    "usage.invalid": (2, "a flag, argument or -p value is malformed"),
    "config.invalid": (2, "the config file cannot be parsed or holds a wrong value"),
    "key.missing": (3, "no key is configured for the provider"),
    "key.format": (3, "the key has the wrong shape (fal: id:secret; Replicate: r8_…)"),
    "key.invalid": (3, "the provider does not know the key (revoked, mistyped)"),
    "key.locked": (3, "the account is locked (exhausted balance, admin lock)"),
    "key.scope": (3, "the key's scope does not allow this call"),
    "billing.required": (3, "the account needs billing set up or more credit"),
    "model.not_found": (4, "the model id does not exist on the provider"),
    "model.wrong_kind": (4, "the model is not a media-generation model"),
    "model.needs_version": (4, "a Replicate community model needs owner/name:version"),
    "payload.invalid": (5, "the model rejected the input"),
    "content.policy": (5, "the input or output was refused by a content policy"),
    "rate.limited": (6, "rate limited after retries and key rotation"),
    "provider.unavailable": (7, "the provider answered 5xx after retries"),
    "blocked.cloudflare": (7, "a Cloudflare challenge blocked the request: not a key problem"),
    "network.dns": (7, "the provider's host name does not resolve"),
    "network.connect": (7, "the connection was refused or reset"),
    "network.tls": (7, "the TLS handshake or certificate check failed"),
    "network.timeout": (7, "the provider did not answer in time"),
    "network.proxy": (7, "the configured proxy failed"),
    "config.locked": (7, "another genctl held the config file's lock too long (--timeout, or 10 s)"),
    "generation.timeout": (7, "the generation did not finish before --timeout; it was cancelled"),
    "generation.failed": (1, "the model ran and failed"),
    "generation.canceled": (1, "the job was cancelled"),
    "generation.aborted": (1, "the job was aborted before it started (deadline)"),
    "output.expired": (1, "the provider no longer holds the result"),
    "budget.exceeded": (8, "the estimated cost is over --max-cost / [defaults] max_cost; nothing was sent"),
    "budget.unknown": (8, "a max cost is set but the price is unknown; nothing was sent"),
    "interrupted": (130, "interrupted; the remote job was cancelled"),
}


@dataclass(eq=False)
class GenctlError(Exception):
    """A failure with its diagnosis code, the provider's own words, and what to do about it."""

    code: str
    message: str
    fix: str = ""
    provider: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown diagnosis code {self.code!r}")
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def exit_code(self) -> int:
        return CODES[self.code][0]

    def to_json(self) -> dict[str, Any]:
        """The `error` object of the --json failure contract."""
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
            "provider": self.provider,
            "http_status": self.http_status,
        }
        if self.request_id:
            out["request_id"] = self.request_id
        if self.details:
            out["details"] = self.details
        return out


class UsageError(GenctlError):
    """Bad flags, arguments or config (exit 2)."""


class CredentialError(GenctlError):
    """A key or account problem (exit 3): another key of another account may help."""


class ModelError(GenctlError):
    """The model id is wrong for this provider (exit 4)."""


class PayloadError(GenctlError):
    """The model refused the input (exit 5): retrying with another key would fail the same way."""


class RateLimitError(GenctlError):
    """Still rate limited after honouring retry hints (exit 6)."""


class UnavailableError(GenctlError):
    """The provider could not be reached or served nothing (exit 7)."""


class GenerationError(GenctlError):
    """The job ran and did not produce a result (exit 1)."""


class BudgetError(GenctlError):
    """The estimate is over the budget, or cannot be made while one is set (exit 8); nothing was sent."""


class Interrupted(GenctlError):
    """Ctrl-C (exit 130)."""


_CLASS_BY_EXIT: dict[int, type[GenctlError]] = {
    1: GenerationError,
    2: UsageError,
    3: CredentialError,
    4: ModelError,
    5: PayloadError,
    6: RateLimitError,
    7: UnavailableError,
    8: BudgetError,
    130: Interrupted,
}


def error(
    code: str,
    message: str,
    *,
    fix: str = "",
    provider: str | None = None,
    http_status: int | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> GenctlError:
    """Build the GenctlError subclass that `code` belongs to."""
    if code not in CODES:
        raise ValueError(f"unknown diagnosis code {code!r}")
    cls = _CLASS_BY_EXIT[CODES[code][0]]
    return cls(
        code=code,
        message=message,
        fix=fix,
        provider=provider,
        http_status=http_status,
        request_id=request_id,
        details=details or {},
    )


def usage(message: str, fix: str = "") -> GenctlError:
    """Shorthand for a usage error (exit 2)."""
    return error("usage.invalid", message, fix=fix)
