"""Ready-made sandbox credentials, and the registry that decides what each key is allowed to do."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from typing import Literal

Provider = Literal["fal", "replicate"]
Scope = Literal["API", "ADMIN"]
KeyState = Literal[
    "ok",
    "unknown",  # fal 401 "No user found for Key ID and Secret"
    "bad_format",  # fal 401 "Invalid Key Authorization header format..." (no colon)
    "locked_balance",  # fal 403 "User is locked. Reason: Exhausted balance..."
    "locked_admin",  # fal 403 "User is locked. Reason: Admin lock..."
    "locked_topup",  # fal 403 "User is locked. Reason: TOP_UP."
    "invalid",  # replicate 401 "You did not pass a valid authentication token"
    "no_billing",  # replicate 402 "Billing required" on create; GET /account still works
    "no_credit",  # replicate 402 "Insufficient credit" on create
]

# fal keys are "<key_id>:<key_secret>": a UUID and 32 hex chars (fal-api.md §2.1). The values are visibly
# fake (runs of zeros) so secret scanners and humans do not mistake them for real credentials.
FAL_KEY_OK = "00000000-0000-4000-8000-000000000001:5a4d0000000000000000000000000001"
FAL_KEY_OK_2 = "00000000-0000-4000-8000-000000000002:5a4d0000000000000000000000000002"
FAL_KEY_ADMIN = "00000000-0000-4000-8000-000000000003:5a4d0000000000000000000000000003"
FAL_KEY_UNKNOWN = "00000000-0000-4000-8000-0000000000e1:5a4d00000000000000000000000000e1"
FAL_KEY_LOCKED_BALANCE = "00000000-0000-4000-8000-0000000000e2:5a4d00000000000000000000000000e2"
FAL_KEY_LOCKED_ADMIN = "00000000-0000-4000-8000-0000000000e3:5a4d00000000000000000000000000e3"
FAL_KEY_LOCKED_TOPUP = "00000000-0000-4000-8000-0000000000e4:5a4d00000000000000000000000000e4"
FAL_KEY_NO_COLON = "00000000-0000-4000-8000-0000000000e5"  # a key id pasted without its secret

# Replicate tokens are 40 characters starting with "r8_" (replicate-api.md §2.1).
REPLICATE_TOKEN_OK = "r8_sandbox0ok0token000000000000000000001"
REPLICATE_TOKEN_OK_2 = "r8_sandbox0ok0token000000000000000000002"
REPLICATE_TOKEN_INVALID = "r8_sandbox0invalid00000000000000000000e1"
REPLICATE_TOKEN_NO_BILLING = "r8_sandbox0nobilling000000000000000000e2"
REPLICATE_TOKEN_NO_CREDIT = "r8_sandbox0nocredit0000000000000000000e3"

DEMO_KEYS = {"fal": FAL_KEY_OK, "replicate": REPLICATE_TOKEN_OK}  # what --sandbox uses without env keys
FAL_ACCOUNT = "sandbox-user"
FAL_ACCOUNT_2 = "sandbox-team"
REPLICATE_ACCOUNT = "sandbox-user"
REPLICATE_ACCOUNT_2 = "sandbox-team"
DEFAULT_ACCOUNT = "sandbox-default"  # owner of any well-formed key nobody registered

_REPLICATE_TOKEN_RE = re.compile(r"r8_[A-Za-z0-9]{37}")


def fingerprint(raw: str) -> str:
    """What the sandbox records instead of a key: enough to tell keys apart, useless to an attacker."""
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class KeyInfo:
    """What a key is: whose it is, what it may do, and how a provider answers it."""

    provider: Provider
    state: KeyState
    account: str
    scope: Scope = "API"
    balance: float = 24.5

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def _builtin() -> dict[tuple[Provider, str], KeyInfo]:
    fal: list[tuple[str, KeyState, str, Scope, float]] = [
        (FAL_KEY_OK, "ok", FAL_ACCOUNT, "API", 24.5),
        (FAL_KEY_OK_2, "ok", FAL_ACCOUNT_2, "API", 3.0),
        (FAL_KEY_ADMIN, "ok", FAL_ACCOUNT, "ADMIN", 24.5),
        (FAL_KEY_UNKNOWN, "unknown", "", "API", 0.0),
        (FAL_KEY_LOCKED_BALANCE, "locked_balance", "sandbox-broke", "ADMIN", -0.18),
        (FAL_KEY_LOCKED_ADMIN, "locked_admin", "sandbox-locked", "ADMIN", 12.0),
        (FAL_KEY_LOCKED_TOPUP, "locked_topup", "sandbox-topup", "API", 0.0),
    ]
    rep: list[tuple[str, KeyState, str]] = [
        (REPLICATE_TOKEN_OK, "ok", REPLICATE_ACCOUNT),
        (REPLICATE_TOKEN_OK_2, "ok", REPLICATE_ACCOUNT_2),
        (REPLICATE_TOKEN_INVALID, "invalid", ""),
        (REPLICATE_TOKEN_NO_BILLING, "no_billing", "sandbox-nobilling"),
        (REPLICATE_TOKEN_NO_CREDIT, "no_credit", "sandbox-nocredit"),
    ]
    table: dict[tuple[Provider, str], KeyInfo] = {}
    for key, state, account, scope, balance in fal:
        table["fal", key] = KeyInfo("fal", state, account, scope, balance)
    for key, state, account in rep:
        table["replicate", key] = KeyInfo("replicate", state, account)
    return table


class KeyRegistry:
    """Special keys by (provider, raw key); every other well-formed key is a valid default-account key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys = _builtin()

    def add(
        self,
        provider: Provider,
        key: str,
        *,
        state: KeyState = "ok",
        account: str = DEFAULT_ACCOUNT,
        scope: Scope = "API",
        balance: float = 24.5,
    ) -> KeyInfo:
        info = KeyInfo(provider, state, account, scope, balance)
        with self._lock:
            self._keys[provider, key] = info
        return info

    def lookup(self, provider: Provider, key: str) -> KeyInfo:
        with self._lock:
            known = self._keys.get((provider, key))
        if known is not None:
            return known
        if provider == "fal":
            if ":" not in key:
                return KeyInfo("fal", "bad_format", "")
            key_id, _, secret = key.partition(":")
            # A pasted key with a stray newline or space is the classic cause of "No user found" (§6.2).
            if not key_id or not secret or any(ch.isspace() for ch in key):
                return KeyInfo("fal", "unknown", "")
            return KeyInfo("fal", "ok", DEFAULT_ACCOUNT)
        if _REPLICATE_TOKEN_RE.fullmatch(key):
            return KeyInfo("replicate", "ok", DEFAULT_ACCOUNT)
        return KeyInfo("replicate", "invalid", "")
