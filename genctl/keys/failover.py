"""Which key a generation uses next: after a rejected key, or a rate limit, before the job was accepted.

`genctl.generation` takes the plan's key from `Failover.first()` (the one acquire of a generation: the
pre-flight and the submit use that key), asks `Failover.handles(err)` whether an error before acceptance is
about the key, then `Failover.after(key, err)` for the key to send the same request with. Rejections (401,
403 lock or scope, 402) mark the key failed, account-wide for locks and billing; a 429 rests the key until
its retry time and switches to a free key of another account, else sleeps out the hint within the deadline.
Anything else (404, 422, content policy, a model's failure) is not handled: another key would fail the same
way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from genctl.errors import GenctlError
from genctl.http import RetryPolicy
from genctl.keys import ACCOUNT_WIDE_CODES, CREDENTIAL_CODES
from genctl.keys.check import lookup_accounts

if TYPE_CHECKING:
    import httpx

    from genctl.keys import KeyPool
    from genctl.runner import EventKind
    from genctl.settings import ProviderSettings
    from genctl.values import Key

# Rate limits with no other key to switch to: wait at most this often, this long each (within --timeout).
RATE_LIMIT_WAITS = 3
RATE_LIMIT_MAX_WAIT = RetryPolicy().max_wait
Notify = Callable[["EventKind", str], None]  # ("key": switched key or a state notice, "retry": waiting)


class Failover:
    """The key side of one generation: the first key, and the next one after each handled error."""

    def __init__(
        self,
        pool: KeyPool,
        settings: ProviderSettings,
        client: httpx.Client,
        *,
        deadline: float | None,
        notify: Notify,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.client = client
        self.notify = notify
        self.clock = clock
        self.sleep = sleep
        self.end = None if deadline is None else clock() + deadline
        self.waits = 0
        self.switches = 0

    def remaining(self) -> float | None:
        return None if self.end is None else max(0.0, self.end - self.clock())

    def first(self) -> Key:
        """The generation's key, acquired once (a rotation step); a key-state problem is a notice."""
        key = self._acquire()
        if self.pool.store.problem:
            self.notify("key", self.pool.store.problem)
        return key

    @staticmethod
    def handles(err: GenctlError) -> bool:
        """Whether `err`, met before the job was accepted, is the key's problem (so another key may help)."""
        return err.code in CREDENTIAL_CODES or err.code == "rate.limited"

    def after(self, key: Key, err: GenctlError) -> Key:
        """The key to send the same request with after `err`; raises when there is none (or no time)."""
        if err.code == "rate.limited":
            return self._after_rate_limit(key, err)
        if err.code in ACCOUNT_WIDE_CODES:
            self._learn_accounts()
        marked = self.pool.fail(key, err)
        try:
            chosen = self._acquire()
        except GenctlError as none_left:
            # Keep what the provider answered this time: scripts read http_status.
            none_left.http_status = none_left.http_status or err.http_status
            raise none_left from err
        also = f"; {len(marked) - 1} more key(s) of its account set aside" if len(marked) > 1 else ""
        self.notify(
            "key", f"{self.pool.provider} key {key.label} failed ({err.code}{also}); using {chosen.label}"
        )
        return chosen

    def _after_rate_limit(self, key: Key, err: GenctlError) -> Key:
        hint = err.details.get("retry_after")
        self._learn_accounts()
        self.pool.cool(key, float(hint) if isinstance(hint, int | float) else None, err)
        # Bounded: two keys answering 429 with no wait must not hand the job back and forth for ever.
        switched = self.pool.switch_from(key) if self.switches < len(self.pool.keys) else None
        if switched is None:
            self._wait(err)
            return key  # its retry time has come
        self.switches += 1
        self.notify("key", f"{self.pool.provider} key {key.label} is rate limited; using {switched.label}")
        return switched

    def _acquire(self) -> Key:
        while True:
            try:
                return self.pool.acquire()
            except GenctlError as err:
                if err.code != "rate.limited":
                    raise  # every key failed: the error lists each one
                self._wait(err)

    def _wait(self, err: GenctlError) -> None:
        """Sleep out a rate limit if the retry hint fits the budget, else give up with `err`."""
        self.waits += 1
        hint = err.details.get("retry_after")
        backoff = RetryPolicy().base_delay * 2 ** (self.waits - 1)  # http.send's backoff without a hint
        wait = float(hint) if isinstance(hint, int | float) else backoff
        left = self.remaining()
        if self.waits > RATE_LIMIT_WAITS or wait > RATE_LIMIT_MAX_WAIT or (left is not None and wait > left):
            raise err
        self.notify(
            "retry", f"{self.pool.provider} is rate limiting every usable key; retrying in {wait:.1f} s"
        )
        self.sleep(wait)

    def _learn_accounts(self) -> None:
        """Ask the provider (Replicate: free `GET /account`) whose the unlabelled keys are; remembered."""

        unknown = [view.key for view in self.pool.views() if view.account is None]
        if unknown:
            self.pool.learn_accounts(lookup_accounts(self.settings, unknown, self.client))
