"""Free account probes: the requests that tell whether a key works and what the answers say, pure functions.

Replicate: `GET /v1/account` answers any valid token with its username (replicate-api.md §2.2); billing
(402) cannot be probed for free. fal (fal-api.md §7): `GET /v1/models/pricing` needs a key of any scope
(valid/invalid), `GET /v1/account/billing?expand=credits` gives username and balance to ADMIN keys and
403 "Access denied" to API keys, and a lock shows only on billable or upload calls, so the lock probe is an
upload *initiate* that uploads nothing. UNVERIFIED against the real fal: that initiate answers 403
"User is locked" for a locked account (issue fal-ai/fal#1147 says so) and that it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from genctl.http import json_body
from genctl.providers._common import str_or_none
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.errors import GenctlError
    from genctl.values import Key

CheckStatus = Literal["valid", "invalid", "locked", "billing", "scope", "network", "error"]
# A key's diagnosis code -> what a check shows; anything else is "error" (network.* is "network").
_STATUS_BY_CODE: dict[str, CheckStatus] = {
    "key.missing": "invalid",
    "key.format": "invalid",
    "key.invalid": "invalid",
    "key.locked": "locked",
    "billing.required": "billing",
    "key.scope": "scope",
}
FAL_PROBE_ENDPOINT = "fal-ai/flux/dev"  # any public endpoint id: pricing only needs the key to be valid
_LOCK_PROBE_BODY = {"file_name": "genctl-key-check.txt", "content_type": "text/plain"}


@dataclass(frozen=True)
class KeyCheck:
    """The verdict of one key's live check, with what the provider told about its account."""

    status: CheckStatus
    error: GenctlError | None = None  # why the check failed, as the provider's error mapping says
    account: str | None = None
    scope: str | None = None  # fal: "ADMIN" or "API"
    balance: float | None = None  # fal, ADMIN keys only
    currency: str | None = None
    rate_limit_remaining: int | None = None  # Replicate's ratelimit-remaining header
    notes: tuple[str, ...] = ()  # what the check could not tell

    @property
    def ok(self) -> bool:
        return self.status == "valid"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.error.code if self.error else None,
            "message": self.error.message if self.error else None,
            "account": self.account,
            "scope": self.scope,
            "balance": self.balance,
            "currency": self.currency,
            "rate_limit_remaining": self.rate_limit_remaining,
            "notes": list(self.notes),
        }


def failed_check(err: GenctlError, **facts: Any) -> KeyCheck:
    """The verdict for a probe that ended in `err` (already mapped by the provider's error_from_response)."""
    status = _STATUS_BY_CODE.get(err.code) or ("network" if err.code.startswith("network.") else "error")
    return KeyCheck(status, error=err, **facts)


# -- Replicate -------------------------------------------------------------------------------------------


def replicate_account_request(api_url: str, key: Key) -> HttpRequest:
    url = f"{api_url.rstrip('/')}/account"
    return HttpRequest("GET", url, headers=ReplicateProvider.headers(key), idempotent=True)


def parse_replicate_account(response: httpx.Response) -> KeyCheck:
    """`{"type", "username", "name", …}`; the rate-limit headroom comes free in a header (§1.8)."""

    body = json_body(response)
    username = str_or_none(body.get("username")) if isinstance(body, dict) else None
    remaining = response.headers.get("ratelimit-remaining", "")
    return KeyCheck(
        "valid",
        account=username,
        rate_limit_remaining=int(remaining) if remaining.isdigit() else None,
        notes=("billing not checked: only running a model shows it",),
    )


# -- fal -------------------------------------------------------------------------------------------------


def fal_pricing_request(api_url: str, key: Key) -> HttpRequest:
    url = f"{api_url.rstrip('/')}/models/pricing"
    params = {"endpoint_id": FAL_PROBE_ENDPOINT}
    return HttpRequest("GET", url, headers=FalProvider.headers(key), params=params, idempotent=True)


def fal_key_accepted(response: httpx.Response) -> bool:
    """A pricing answer that got past authentication (a 404 for the endpoint id still means a good key)."""
    return response.is_success or response.status_code == 404


def fal_billing_request(api_url: str, key: Key) -> HttpRequest:
    url = f"{api_url.rstrip('/')}/account/billing"
    return HttpRequest(
        "GET", url, headers=FalProvider.headers(key), params={"expand": "credits"}, idempotent=True
    )


def parse_fal_billing(response: httpx.Response) -> tuple[str | None, float | None, str | None]:
    """(username, balance, currency) from `{"username", "credits": {"current_balance", "currency"}}`."""

    body = json_body(response)
    if not isinstance(body, dict):
        return None, None, None
    credits = body.get("credits")
    credits = credits if isinstance(credits, dict) else {}
    balance = credits.get("current_balance")
    number = float(balance) if isinstance(balance, int | float) and not isinstance(balance, bool) else None
    return str_or_none(body.get("username")), number, str_or_none(credits.get("currency"))


def fal_lock_request(rest_url: str, key: Key) -> HttpRequest:
    """An upload initiate that uploads nothing: locked accounts get 403 there (UNVERIFIED, see above)."""
    url = f"{rest_url.rstrip('/')}/storage/upload/initiate"
    # Not idempotent: it reserves an upload slot, so it is not retried.
    return HttpRequest(
        "POST",
        url,
        headers=FalProvider.headers(key),
        params={"storage_type": "fal-cdn-v3"},
        json=_LOCK_PROBE_BODY,
    )
