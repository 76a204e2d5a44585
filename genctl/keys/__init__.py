"""The KeyPool that rotates a provider's API keys (the Key value type itself is in genctl.values).

Keys are read from env and config by `genctl.key_sources`. A KeyPool
spreads the keys of one provider round-robin across processes (the position lives in the state file, see
`genctl.keys.state`), marks keys failed on credential errors (account-wide for locks and billing), cools
rate-limited keys down, and explains itself when none is left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from genctl.errors import CODES, GenctlError, error
from genctl.keys.state import KeyStore
from genctl.settings import DEFAULT_COOLDOWN, MAX_SECONDS
from genctl.values import Key

if TYPE_CHECKING:
    from genctl.keys.state import KeyStore, ProviderState
    from genctl.settings import Settings

# A rejected key (the exit-3 codes): try the next one. genctl never rotates on model, input or server
# errors: those would fail the same way with any key, and a second paid attempt could be charged.
CREDENTIAL_CODES = frozenset(code for code, (exit_code, _) in CODES.items() if exit_code == 3)
ACCOUNT_WIDE_CODES = frozenset({"key.locked", "billing.required"})  # a new key of that account won't help
RATE_LIMIT_COOLDOWN = 30.0  # seconds a rate-limited key sits out when the provider names no retry time


# -- the pool --------------------------------------------------------------------------------------------

KeyState = Literal["usable", "failed", "cooling"]


@dataclass(frozen=True)
class KeyView:
    """One key of a pool as it stands now: usable, failed (until `until`) or cooling down (rate limit)."""

    key: Key
    state: KeyState = "usable"
    code: str | None = None
    reason: str | None = None
    fix: str | None = None
    since: float | None = None
    until: float | None = None
    last_used: float | None = None
    account: str | None = None  # from the config, else as the provider reported it
    next: bool = False  # the key the next generation starts with


class KeyPool:
    """The keys of one provider, rotated round-robin across processes, with failover and cool-downs."""

    def __init__(
        self, provider: str, keys: Sequence[Key], *, store: KeyStore, cooldown: float = DEFAULT_COOLDOWN
    ) -> None:
        self.provider = provider
        self.keys = tuple(keys)
        self.store = store
        self.cooldown = cooldown

    def views(self) -> list[KeyView]:
        return self._views(self.store.read(self.provider))

    def peek(self) -> Key | None:
        """The key the next generation would start with (nothing is recorded)."""
        return next((view.key for view in self.views() if view.next), None)

    def acquire(self) -> Key:
        """Take the next usable key in rotation and move the rotation on, for every process.

        Raises a CredentialError listing each key when all have failed, or a RateLimitError (with
        `details["retry_after"]`) when the only keys left are cooling down.
        """
        with self.store.update(self.provider) as state:
            views = self._views(state)
            chosen = next((view.key for view in views if view.next), None)
            if chosen is None:
                raise self.explain(views)
            self._take(state, chosen)
        return chosen

    def switch_from(self, limited: Key) -> Key | None:
        """A usable key that may not share `limited`'s account (and its rate limit), taken; or None."""
        with self.store.update(self.provider) as state:
            account = self._account(limited, state)
            for view in self._rotation(self._views(state), state.next):
                other_account = account is None or view.account is None or view.account != account
                if view.state == "usable" and view.key != limited and other_account:
                    self._take(state, view.key)
                    return view.key
        return None

    def fail(self, key: Key, err: GenctlError) -> list[Key]:
        """Mark `key` failed for the cool-down; for a lock or billing error, every key of its account too."""
        with self.store.update(self.provider) as state:
            now = self.store.clock()
            account = self._account(key, state)
            marked = [key]
            if err.code in ACCOUNT_WIDE_CODES and account is not None:
                marked += [k for k in self.keys if k != key and self._account(k, state) == account]
            for other in marked:
                record = state.record(other.fingerprint)
                record.state, record.code, record.fix = "failed", err.code, err.fix
                record.reason = (
                    _reason(err, key) if other == key else f"same account ({account}) as {key.label}"
                )
                # No `until`: the cool-down setting in effect when the state is read decides.
                record.since, record.until = now, None
        return marked

    def cool(self, key: Key, seconds: float | None, err: GenctlError) -> None:
        """Rest a rate-limited key until its retry time."""
        with self.store.update(self.provider) as state:
            now = self.store.clock()
            record = state.record(key.fingerprint)
            record.state, record.code, record.reason, record.fix = (
                "cooling",
                err.code,
                _reason(err, key),
                err.fix,
            )
            wait = RATE_LIMIT_COOLDOWN if seconds is None or not math.isfinite(seconds) else seconds
            record.since, record.until = now, now + min(max(0.0, wait), MAX_SECONDS)

    def succeeded(self, key: Key) -> None:
        """The provider accepted a job from `key`: whatever cool-down or failure it had is over (a 429 that a
        retry already resolved must not sit the key out for the next run). Written only when there is one."""
        record = self.store.read(self.provider).keys.get(key.fingerprint)
        if record is None or record.state is None:
            return
        with self.store.update(self.provider) as state:
            state.record(key.fingerprint).clear()

    def recover(self, key: Key) -> None:
        """A failed key back in rotation now (its live check passed); a rate-limit rest runs its course."""
        with self.store.update(self.provider) as state:
            record = state.record(key.fingerprint)
            if record.state == "failed":
                record.clear()

    def learn_accounts(self, accounts: Mapping[Key, str]) -> None:
        """Remember the account names providers reported, for keys the config does not label."""
        with self.store.update(self.provider) as state:
            for key, account in accounts.items():
                if key.account is None:
                    state.record(key.fingerprint).account = account

    def forget(self, key: Key) -> None:
        with self.store.update(self.provider) as state:
            state.keys.pop(key.fingerprint, None)

    # -- internals ---------------------------------------------------------------------------------------

    def _account(self, key: Key, state: ProviderState) -> str | None:
        record = state.keys.get(key.fingerprint)
        return key.account or (record.account if record is not None else None)

    def _views(self, state: ProviderState) -> list[KeyView]:
        now = self.store.clock()
        views: list[KeyView] = []
        for key in self.keys:
            record = state.keys.get(key.fingerprint)
            if (problem := key.problem_text()) is not None:
                # A key that could never work is never sent: failed for good, with the one message for it.
                reason, fix = problem
                views.append(KeyView(key, "failed", "key.format", reason, fix, account=key.account))
                continue
            if record is None:
                views.append(KeyView(key, account=key.account))
                continue
            base = KeyView(key, last_used=record.last_used, account=self._account(key, state))
            until = record.until
            if record.state == "failed" and record.since is not None:
                until = record.since + self.cooldown
            if record.state is not None and until is not None and until > now:
                base = replace(
                    base,
                    state=record.state,
                    code=record.code,
                    reason=record.reason,
                    fix=record.fix,
                    since=record.since,
                    until=until,
                )
            views.append(base)
        if views:
            ordered = self._rotation(views, start=state.next)
            first = next((view for view in ordered if view.state == "usable"), None)
            views = [replace(view, next=view is first) for view in views]
        return views

    def _rotation(self, views: list[KeyView], start: int) -> list[KeyView]:
        """`views` in the order the pool tries them, starting at the persisted position."""
        if not views:
            return []
        first = start % len(views)
        return views[first:] + views[:first]

    def _take(self, state: ProviderState, key: Key) -> None:
        state.next = (self.keys.index(key) + 1) % len(self.keys)
        state.record(key.fingerprint).last_used = self.store.clock()

    def explain(self, views: list[KeyView] | None = None) -> GenctlError:
        """The error for a pool without a usable key: each key, why and since when, and the fixes."""
        views = self.views() if views is None else views
        if not views:
            return error("key.missing", f"No {self.provider} key is configured.", provider=self.provider)
        now = self.store.clock()
        if len(views) == 1 and views[0].code == "key.format" and views[0].reason:
            return error("key.format", views[0].reason, fix=views[0].fix or "", provider=self.provider)
        lines = [f"  {describe(view, now)}" for view in views]
        cooling = [view.until for view in views if view.state == "cooling" and view.until is not None]
        if cooling:
            wait = max(0.0, min(cooling) - now)
            return error(
                "rate.limited",
                f"{_every(self.provider, views)} is failed or rate limited:\n" + "\n".join(lines),
                fix=f"Retry in {wait:.0f} s, lower the request rate, or add a key of another account "
                f"(genctl keys add {self.provider} --account NAME).",
                provider=self.provider,
                details={"retry_after": wait, "keys": [view_json(view) for view in views]},
            )
        latest = max(views, key=lambda view: view.since or 0.0)
        fixes = list(dict.fromkeys(view.fix for view in views if view.fix))
        fix = " ".join([*fixes, "`genctl keys status --check` puts fixed keys back in rotation at once;"])
        fix += f" unchecked, a failed key is tried again {_duration(self.cooldown)} after it failed."
        return error(
            latest.code or "key.invalid",
            f"{_every(self.provider, views)} has failed:\n" + "\n".join(lines),
            fix=fix.strip(),
            provider=self.provider,
            details={"keys": [view_json(view) for view in views]},
        )


def _reason(err: GenctlError, key: Key) -> str:
    """The error's words for the state file: the key named by its label only (the state holds no key part)."""
    return err.message.replace(str(key), key.label)


def describe(view: KeyView, now: float) -> str:
    """`ci-1 (a1b2…9f0e): key.locked since 2025-01-01 12:00:00 UTC (4 min ago), until …: reason`."""
    head = f"{view.key.label} ({view.key.masked})"
    if view.state == "usable":
        return f"{head}: usable"
    what = "failed" if view.state == "failed" else "rate limited"
    since = f" since {timestamp(view.since)} ({_duration(now - view.since)} ago)" if view.since else ""
    until = ""
    if view.until:  # a future time: it has not happened yet, and must not read as if it had
        when = "will be tried again at" if view.until > now else "may be tried again since"
        until = f", {when} {timestamp(view.until)}"
    return f"{head}: {what} ({view.code}){since}{until}: {view.reason or 'no reason recorded'}"


def view_json(view: KeyView) -> dict[str, object]:
    """The machine form of a KeyView (`keys status --json`, error details): masked key, ISO times."""
    return {
        "label": view.key.label,
        "masked": view.key.masked,
        "fingerprint": view.key.fingerprint,
        "source": view.key.source,
        "account": view.account,
        "format_warning": view.key.shape_warning,
        "state": view.state,
        "code": view.code,
        "reason": view.reason,
        "since": iso(view.since),
        "until": iso(view.until),
        "last_used": iso(view.last_used),
        "next": view.next,
    }


def _every(provider: str, views: list[KeyView]) -> str:
    return f"The {provider} key" if len(views) == 1 else f"Every {provider} key ({len(views)})"


def iso(ts: float | None) -> str | None:
    try:
        return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    except (OverflowError, OSError, ValueError):
        return None  # a time no calendar shows (the state file is checked on reading; this is the backstop)


def timestamp(ts: float, now: float | None = None) -> str:
    """`2025-01-01 12:00:00 UTC`, or just `12:00:00 UTC` when within a day of `now`."""
    short = now is not None and abs(ts - now) < 20 * 3600
    try:
        return time.strftime("%H:%M:%S UTC" if short else "%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
    except (OverflowError, OSError, ValueError):
        return "an unknown time"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def pool_for(settings: Settings, provider: str, *, store: KeyStore | None = None) -> KeyPool:
    """The pool of `provider`'s configured keys, persisted in the state dir (or `store`)."""

    keys = settings.providers[provider].keys
    store = store or KeyStore(memory=not settings.key_state_shared)
    return KeyPool(provider, keys, store=store, cooldown=settings.key_cooldown)
