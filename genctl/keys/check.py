"""Live key checks: send the free probes of `providers.accounts` for many keys at once, and apply verdicts."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from genctl.errors import GenctlError
from genctl.http import RetryPolicy, make_client, send
from genctl.providers.accounts import (
    KeyCheck,
    failed_check,
    fal_billing_request,
    fal_key_accepted,
    fal_lock_request,
    fal_pricing_request,
    parse_fal_billing,
    parse_replicate_account,
    replicate_account_request,
)
from genctl.providers.factory import get_provider
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider

if TYPE_CHECKING:
    import httpx

    from genctl.keys import KeyPool
    from genctl.settings import ProviderSettings
    from genctl.values import HttpRequest, Key

PROBE_TIMEOUT = 5.0  # seconds for each probe call: a check must not hang on one dead key
MAX_WORKERS = 8
ACCOUNT_LOOKUP_TIMEOUT = 5.0
T = TypeVar("T")
_POLICY = RetryPolicy(max_attempts=2, base_delay=0.2, max_wait=1.0)


def check_keys(
    providers: Mapping[str, ProviderSettings], keys: Sequence[Key], *, timeout: float = PROBE_TIMEOUT
) -> dict[Key, KeyCheck]:
    """Every key checked live and concurrently (bounded threads, each call with `timeout`)."""
    if not keys:
        return {}
    with (
        make_client(timeout=timeout, connect_timeout=timeout) as client,
        ThreadPoolExecutor(
            max_workers=min(MAX_WORKERS, len(keys)), thread_name_prefix="genctl-check"
        ) as pool,
    ):
        verdicts = pool.map(lambda key: check_key(providers[key.provider], key, client), keys)
        return dict(zip(keys, verdicts, strict=True))


def check_key(
    settings: ProviderSettings, key: Key, client: httpx.Client, *, policy: RetryPolicy = _POLICY
) -> KeyCheck:
    """One key's verdict: valid, or why not (invalid, locked, billing, scope, network, error).

    `policy`: doctor passes one try, so a probe of a host that never answers ends at the probe timeout.
    """
    provider = get_provider(key.provider, settings)
    try:
        if isinstance(provider, FalProvider):
            return _check_fal(provider, key, client, policy)
        assert isinstance(provider, ReplicateProvider)
        response = _send(client, replicate_account_request(provider.api_url, key), key.provider, policy)
        if not response.is_success:
            return failed_check(provider.error_from_response(response, key=key))
        return parse_replicate_account(response)
    except GenctlError as err:  # transport failures, mapped by http.send
        return failed_check(err)


def _check_fal(provider: FalProvider, key: Key, client: httpx.Client, policy: RetryPolicy) -> KeyCheck:
    # The three free probes do not depend on each other's answers, only their reading does: all three go
    # out at once (one round trip, not three), and a refused pricing call still decides alone.
    billing_sent = in_background(
        lambda: _send(client, fal_billing_request(provider.api_url, key), provider.name, policy)
    )
    lock_sent = in_background(
        lambda: _send(client, fal_lock_request(provider.rest_url, key), provider.name, policy)
    )
    try:
        return _read_fal(provider, key, client, policy, billing_sent, lock_sent)
    finally:
        # Whatever decided, the other probes end before the caller may close the client under them.
        wait([billing_sent, lock_sent])


def _read_fal(
    provider: FalProvider,
    key: Key,
    client: httpx.Client,
    policy: RetryPolicy,
    billing_sent: Future[httpx.Response],
    lock_sent: Future[httpx.Response],
) -> KeyCheck:
    response = _send(client, fal_pricing_request(provider.api_url, key), provider.name, policy)
    if not fal_key_accepted(response):
        return failed_check(provider.error_from_response(response, key=key))
    notes: list[str] = []
    account = balance = currency = scope = None
    billing = billing_sent.result()
    if billing.is_success:
        scope = "ADMIN"
        account, balance, currency = parse_fal_billing(billing)
    elif (err := provider.error_from_response(billing, key=key)).code == "key.scope":
        scope = "API"
        notes.append("no account or balance with an API-scope key")
    else:
        notes.append(f"account unknown ({err.code})")
    facts: dict[str, Any] = {"account": account, "scope": scope, "balance": balance, "currency": currency}
    lock = lock_sent.result()
    if not lock.is_success:
        err = provider.error_from_response(lock, key=key)
        if err.code == "key.locked":
            return failed_check(err, **facts)
        notes.append(f"lock state unknown ({err.code})")
    return KeyCheck("valid", notes=tuple(notes), **facts)


def in_background(call: Callable[[], T]) -> Future[T]:
    """`call` on a daemon thread, in a copy of the caller's context (an abandoned probe past doctor's
    deadline must not keep the process alive); its exception (a GenctlError from http.send, say) is
    re-raised by `.result()`."""
    future: Future[T] = Future()
    context = contextvars.copy_context()  # doctor records each probe's HTTP exchanges in its context

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(call))
        except BaseException as exc:  # re-raised by future.result() on the caller's thread
            future.set_exception(exc)

    threading.Thread(target=run, name="genctl-check-probe", daemon=True).start()
    return future


def _send(client: httpx.Client, request: HttpRequest, provider: str, policy: RetryPolicy) -> httpx.Response:
    return send(client, request, policy=policy, provider=provider)


def apply_checks(pool: KeyPool, checks: Mapping[Key, KeyCheck]) -> None:
    """Put keys that passed back in rotation, mark those the provider refused; network errors change nothing.

    Refusals are applied first, so a key's own passing check wins over a failure of another key of the
    same account.
    """
    for key, check in checks.items():
        if check.error is not None and check.status in ("invalid", "locked", "billing", "scope"):
            pool.fail(key, check.error)
    pool.learn_accounts({key: check.account for key, check in checks.items() if check.account})
    for key, check in checks.items():
        if check.ok:
            pool.recover(key)


def lookup_accounts(settings: ProviderSettings, keys: Sequence[Key], client: httpx.Client) -> dict[Key, str]:
    """Replicate account names of `keys` from `GET /account` (free); keys whose lookup fails are left out."""
    provider = get_provider(settings.name, settings)
    if not isinstance(provider, ReplicateProvider):
        return {}  # fal names the account only to ADMIN keys: the config's `account` label is the source
    found: dict[Key, str] = {}
    for key in keys:
        request = replicate_account_request(provider.api_url, key)
        try:
            response = send(
                client,
                replace(request, timeout=ACCOUNT_LOOKUP_TIMEOUT),
                policy=RetryPolicy(max_attempts=1),
                provider=provider.name,
            )
        except GenctlError:
            continue
        if response.is_success and (account := parse_replicate_account(response).account):
            found[key] = account
    return found
