"""The one httpx client factory: timeouts, retries of idempotent calls, transport errors, curl, redaction."""

from __future__ import annotations

import base64
import contextlib
import email.utils
import functools
import json
import logging
import math
import os
import random
import re
import shlex
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from genctl import __version__, deadline
from genctl.echoes import mask_echoes
from genctl.errors import GenctlError, error
from genctl.providers import registry
from genctl.values import HttpRequest, Key, mask

log = logging.getLogger("genctl.http")

RETRY_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})
_DNS_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "no address associated",
)
_TLS_HINTS = ("ssl", "certificate", "tls")
# Replicate's 429 `detail`: "… Your rate limit resets in ~30s." and, in older docs (Django REST framework's
# throttle text), "Request was throttled. Expected available in 1 second." (replicate-api.md §2.3).
_DETAIL_HINTS = (
    re.compile(r"~\s*(\d+(?:\.\d+)?)\s*s\b"),
    re.compile(r"Expected available in (\d+(?:\.\d+)?) seconds?\b"),
)
MAX_RETRY_HINT = 86400.0  # a server asking for more than a day is lying or broken: a day is what we honour
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s:]*)(:[^/?#@\s]*)?@")  # scheme://user:pass@
# Failures of one request that are not httpx.TransportError but still the transport's: a body that cannot
# be decoded (gzip garbage), a redirect loop, a URL httpx cannot parse.
REQUEST_ERRORS = (httpx.RequestError, httpx.InvalidURL)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: `max_attempts` counts the first try; waits stop at `max_wait`."""

    max_attempts: int = 4
    base_delay: float = 0.5  # backoff start when the server gives no retry hint
    max_wait: float = 30.0
    jitter: float = 0.1  # waits grow by up to this fraction, so parallel clients spread out


OnRetry = Callable[[int, float, str], None]  # (attempt that failed, wait in seconds, reason)


def make_client(
    *,
    timeout: float,
    connect_timeout: float,
    user_agent: str = f"genctl/{__version__}",
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """The shared client: explicit read/connect timeouts, redirects followed, our User-Agent."""
    try:
        client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=True,
            headers={"User-Agent": user_agent},
            transport=transport,
            verify=_ssl_context() if transport is None else True,
        )
    except (OSError, ssl.SSLError) as exc:
        # httpx loads the CA bundle here: a SSL_CERT_FILE / SSL_CERT_DIR naming a missing or broken file.
        said = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise error(
            "network.tls",
            f"Cannot set up TLS: {said} (reading the CA certificates named by SSL_CERT_FILE / SSL_CERT_DIR).",
            fix="Point SSL_CERT_FILE / SSL_CERT_DIR at CA certificates that exist, or unset them.",
        ) from exc
    # Every socket wait honours genctl.deadline's limits: --timeout, and each exchange's wall-clock cap.
    deadline.install(client)
    return client


_SSL_CONTEXTS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
_SSL_LOCK = threading.Lock()


def _ssl_context() -> ssl.SSLContext:
    """httpx's default context (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), built once per process and CA
    setting: loading the bundle costs ~30 ms of CPU per client, and doctor makes one per connectivity probe.
    A failure (a missing bundle) is not cached: it is raised again for the next client."""
    where = (os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)
    with _SSL_LOCK:
        found = _SSL_CONTEXTS.get(where)
        if found is None:
            found = _SSL_CONTEXTS[where] = httpx.create_ssl_context()
        return found


def warm_ssl() -> None:
    """Build the SSL context on a thread, while the caller goes on importing and planning: loading the CA
    bundle releases the interpreter lock, so it runs beside the imports on another core. A failure is left
    for the first client to raise, with its message."""

    def build() -> None:
        with contextlib.suppress(Exception):
            _ssl_context()

    threading.Thread(target=build, name="genctl-ssl", daemon=True).start()


def proxy_for(url: str) -> tuple[str | None, str | None]:
    """(proxy URL, the variable that set it) httpx would use for `url`, from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY
    and NO_PROXY (urllib's reading of them; httpx reads the same variables, its NO_PROXY matching is close
    but not identical for wildcards)."""
    parsed = httpx.URL(url)
    proxies = urllib.request.getproxies_environment()
    if not proxies or urllib.request.proxy_bypass(parsed.host):
        return None, None
    for scheme in (parsed.scheme, "all"):
        if proxies.get(scheme):
            return proxies[scheme], f"{scheme.upper()}_PROXY"
    return None, None


def retry_hint(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait: `Retry-After` (seconds or HTTP date), body `retry_after`, the
    `detail` wording; clamped to 0..MAX_RETRY_HINT (`1e999` is a day, not Infinity); None: no hint, or NaN."""
    header = response.headers.get("retry-after", "").strip()
    if header:
        try:
            return clamp_hint(float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError, IndexError, OverflowError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return clamp_hint((when - datetime.now(UTC)).total_seconds())
    body = json_body(response)
    if isinstance(body, dict):
        value = body.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return clamp_hint(value)
        detail = body.get("detail")
        for pattern in _DETAIL_HINTS:
            if isinstance(detail, str) and (match := pattern.search(detail)):
                return clamp_hint(float(match.group(1)))
    return None


def clamp_hint(seconds: float) -> float | None:
    """A server's wait hint within 0..MAX_RETRY_HINT; None for NaN (no hint at all)."""
    try:
        value = float(seconds)
    except OverflowError:  # a JSON integer too large for a float
        return MAX_RETRY_HINT
    if math.isnan(value):
        return None
    return min(max(0.0, value), MAX_RETRY_HINT)


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when the body is not JSON."""
    try:
        response.read()
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError, httpx.StreamError, httpx.DecodingError):
        return None


def send(
    client: httpx.Client,
    request: HttpRequest,
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: OnRetry | None = None,
    provider: str | None = None,
    budget: float | Callable[[], float] | None = None,
    timeout: float | None = None,
) -> httpx.Response:
    """Send `request`, retrying what is safe to retry; return the final response, even a non-2xx one.

    Idempotent requests are retried on 429/502/503/504 and transport errors. A non-idempotent POST (a paid
    submit) is retried only on ConnectError: the connection never opened, so the server never saw it.
    `budget` caps the time spent waiting between attempts: seconds, or a function giving the seconds left
    (the runner's deadline, so time lost in slow attempts counts too).
    """
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        last = attempt >= policy.max_attempts
        failure: httpx.Response | httpx.RequestError | httpx.InvalidURL
        try:
            failure = _send_within_limits(client, request, timeout=timeout, provider=provider)
        except REQUEST_ERRORS as exc:
            if last or not _retryable_exception(exc, idempotent=request.idempotent) or deadline.expired():
                raise _mapped(exc, provider, request) from exc
            reason = redact(f"{type(exc).__name__}: {exc}", _secrets(request))
            failure, wait = exc, _backoff(policy, attempt, None)
        else:
            if last or not request.idempotent or not _retryable_response(failure):
                return failure
            reason, wait = f"HTTP {failure.status_code}", _backoff(policy, attempt, retry_hint(failure))
        left = budget() if callable(budget) else None if budget is None else budget - waited
        if (limit_left := deadline.remaining()) is not None:
            left = limit_left if left is None else min(left, limit_left)
        if left is not None and wait > left:
            if isinstance(failure, httpx.Response):
                return failure
            raise _mapped(failure, provider, request) from failure
        if isinstance(failure, httpx.Response):
            failure.close()
        log.debug("retrying %s %s after %s in %.1f s", request.method, request.url, reason, wait)
        if on_retry is not None:
            on_retry(attempt, wait, reason)
        sleep(wait)
        waited += wait


# -- wall-clock limits (genctl.deadline) ------------------------------------------------------------------

EXCHANGE_FACTOR = 2.0  # one exchange (request out, whole answer in) may take this many read timeouts


def exchange_limit(client: httpx.Client, request: HttpRequest, timeout: float | None) -> float | None:
    """Wall-clock seconds one exchange may take: EXCHANGE_FACTOR × its read timeout (60 s by default)."""
    read = timeout if timeout is not None else request.timeout
    if read is None:
        read = client.timeout.read
    return None if read is None else EXCHANGE_FACTOR * read


def _send_within_limits(
    client: httpx.Client, request: HttpRequest, *, timeout: float | None, provider: str | None
) -> httpx.Response:
    """One attempt, under the command's deadline and this exchange's own wall-clock cap: a host that never
    answers, or answers a byte a second, ends with a timeout (genctl.deadline caps every socket wait).

    The exchange's cap running out is a timeout like any other (an idempotent call is retried); the
    command's deadline running out is final: `generation.timeout`, with `details.sent` saying whether the
    request may have reached the provider.
    """
    seconds = exchange_limit(client, request, timeout)
    with deadline.limit(seconds, f"one HTTP exchange's {seconds:g} s" if seconds else "") as bound:
        if bound is not None and deadline.expired():
            if bound.command:
                raise _deadline_passed(bound, request, provider, sent=False)
            raise httpx.ConnectTimeout(f"{bound.what} ran out before the request was sent")
        try:
            return _send_once(client, request, timeout=timeout)
        except httpx.TimeoutException as exc:
            if bound is not None and bound.command and deadline.expired():
                sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                raise _deadline_passed(bound, request, provider, sent=sent) from exc
            raise


def _deadline_passed(
    bound: deadline.Limit, request: HttpRequest, provider: str | None, *, sent: bool
) -> GenctlError:
    host = httpx.URL(request.url).host or request.url
    where = f"{provider} ({host})" if provider else host
    doing = f"waiting for {where} to answer" if sent else f"before sending {request.method} to {where}"
    return error(
        "generation.timeout",
        f"Stopped {doing}: {bound.what} ran out.",
        fix="Allow more time with --timeout, or check the connection to the provider.",
        provider=provider,
        details={"deadline": bound.what, "sent": sent},
    )


# Every secret this process has put in an Authorization header (memory only, never written): what a server
# can echo, and so what --debug's traceback is redacted with (`redact_sent`).
_SENT: set[str] = set()


def redact_sent(text: str) -> str:
    """`text` (a --debug traceback: the raw exception texts of a chain) with every key sent so far masked."""
    return redact(text, sorted(_SENT))


def _secrets(request: HttpRequest) -> list[str]:
    return [v.partition(" ")[2] for k, v in request.headers.items() if k.lower() == "authorization"]


def _mapped(
    exc: httpx.RequestError | httpx.InvalidURL, provider: str | None, request: HttpRequest
) -> GenctlError:
    # Exception texts are quoted verbatim: mask the request's own secret should one ever show up in them.
    return scrub_error(map_transport_error(exc, provider=provider, url=request.url), _secrets(request))


def _send_once(client: httpx.Client, request: HttpRequest, *, timeout: float | None) -> httpx.Response:
    read_timeout = timeout if timeout is not None else request.timeout
    try:
        built = client.build_request(
            request.method,
            request.url,
            headers=request.headers,
            json=request.json,
            params=request.params,
            files=request.files,
            timeout=_timeout(client, read_timeout) if read_timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except UnicodeEncodeError as exc:
        # A header httpx cannot encode: the key is checked before it gets here, so another header or the
        # URL; the offending text is not quoted (it may be a secret).
        raise error(
            "usage.invalid",
            f"Cannot send {request.method} {_safe_url(request.url)}: a header holds a non-ASCII character.",
            fix="Remove the non-ASCII character (often a pasted zero-width space) from the value named.",
        ) from exc
    except ValueError as exc:  # the JSON body holds NaN or Infinity (httpx encodes with allow_nan=False)
        if "JSON" not in str(exc):
            raise
        raise error(
            "usage.invalid",
            f"Cannot send {request.method} {_safe_url(request.url)}: the input holds a number JSON "
            "cannot carry (NaN or Infinity).",
            fix="Give finite numbers in -p values, the config's [models] tables and batch lines.",
        ) from exc
    log.debug("%s %s headers=%s", built.method, built.url, redacted_headers(request.headers))
    _SENT.update(secret for secret in _secrets(request) if secret.strip())
    response = client.send(built)
    log.debug("%s %s -> %d", built.method, built.url, response.status_code)
    return response


def _timeout(client: httpx.Client, read: float) -> httpx.Timeout:
    connect = client.timeout.connect
    return httpx.Timeout(read, connect=connect if connect is not None else read)


def _retryable_response(response: httpx.Response) -> bool:
    if response.status_code not in RETRY_STATUSES:
        return False
    # fal: a 504 for the caller's own X-Fal-Request-Timeout is an answer, not a glitch (fal-api.md §1.7).
    return not (response.status_code == 504 and response.headers.get("x-fal-request-timeout-type") == "user")


def _retryable_exception(exc: httpx.RequestError | httpx.InvalidURL, *, idempotent: bool) -> bool:
    if isinstance(exc, httpx.InvalidURL | httpx.TooManyRedirects):
        return False  # the next attempt fails the same way
    if isinstance(exc, httpx.ProxyError | httpx.UnsupportedProtocol) or _is_tls(exc):
        return False  # configuration problems: the next attempt fails the same way
    if isinstance(exc, httpx.ConnectError):
        return True
    return idempotent


def _backoff(policy: RetryPolicy, attempt: int, hint: float | None) -> float:
    wait = hint if hint is not None else policy.base_delay * 2 ** (attempt - 1)
    wait = min(wait, policy.max_wait)
    if policy.jitter > 0:
        wait *= 1 + random.uniform(0, policy.jitter)
    return min(wait, policy.max_wait)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_dns(exc: BaseException) -> bool:
    return any(
        isinstance(e, socket.gaierror) or any(h in str(e).lower() for h in _DNS_HINTS) for e in _causes(exc)
    )


def _is_tls(exc: BaseException) -> bool:
    return any(
        isinstance(e, ssl.SSLError) or any(h in str(e).lower() for h in _TLS_HINTS) for e in _causes(exc)
    )


def _safe_url(url: str) -> str:
    """`url` fit for a message: no user name or password, no query string (it may carry a token)."""
    cut = _USERINFO.sub(r"\1", url.split("?", 1)[0].split("#", 1)[0])  # no user part at all
    return cut if len(cut) <= 200 else cut[:200] + "…"


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or _safe_url(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return _safe_url(url)


def map_transport_error(
    exc: httpx.RequestError | httpx.InvalidURL, *, provider: str | None, url: str
) -> GenctlError:
    """The GenctlError for an httpx transport failure (the mapping behind `transport_errors`)."""
    host = _host(url)
    where = f"{provider} ({host})" if provider else host
    said = mask_userinfo(str(exc) or type(exc).__name__)
    if isinstance(exc, httpx.InvalidURL):
        return error(
            "config.invalid",
            f"Cannot call {_safe_url(url)}: it is not a valid URL ({said}).",
            provider=provider,
            fix="Check the provider URLs (GENCTL_*_URL and the config): scheme://host[:port]/path, "
            "with a numeric port.",
        )
    if isinstance(exc, httpx.DecodingError):
        return error(
            "provider.unavailable",
            f"{where} sent an answer whose body cannot be decoded ({said}).",
            provider=provider,
            fix="A server or proxy fault: retry later; if a proxy or gateway sits in between, check it. "
            "A submit may still have created a job: see `genctl history` and the provider's dashboard.",
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return error(
            "provider.unavailable",
            f"{where} redirects in a loop ({said}).",
            provider=provider,
            fix="Check the configured URL (GENCTL_*_URL, config) and any gateway or proxy in between.",
        )
    if isinstance(exc, httpx.LocalProtocolError):
        # httpx refused to send what we built (e.g. an illegal header value): not the network's fault.
        return error(
            "usage.invalid",
            f"Cannot send the request to {where}: {said}",
            provider=provider,
            fix="Check the key and the values given for this request for line breaks or control characters.",
        )
    assert isinstance(exc, httpx.TransportError)
    if isinstance(exc, httpx.ProxyError):
        return error(
            "network.proxy",
            f"The proxy failed on the way to {where}: {said}",
            provider=provider,
            fix="Check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, or unset them to connect directly.",
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return error(
            "config.invalid",
            f"Cannot call {_safe_url(url)!r}: {said}",
            provider=provider,
            fix="Provider URLs start with https:// or http:// (check GENCTL_*_URL and the config).",
        )
    if isinstance(exc, httpx.TimeoutException):
        kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "answer"
        return error(
            "network.timeout",
            f"{where} did not {kind} in time ({type(exc).__name__}).",
            provider=provider,
            fix="Check your connection, or raise the HTTP timeout in the config.",
        )
    if _is_dns(exc):
        return error(
            "network.dns",
            f"Cannot resolve {host}: {said}",
            provider=provider,
            fix=f"Check the host name {host!r} (GENCTL_*_URL, config) and your DNS or network.",
        )
    proxy, proxy_var = proxy_for(url)
    if proxy and isinstance(exc, httpx.ConnectError):
        # httpx raises a plain ConnectError when the proxy is unreachable: name the proxy, not the host.
        proxy_host = httpx.URL(proxy).host
        return error(
            "network.proxy",
            f"Cannot reach the proxy {proxy_host} (from {proxy_var}) on the way to {where}: {said}",
            provider=provider,
            fix=f"Check {proxy_var}, or add {host} to NO_PROXY to connect directly.",
        )
    if _is_tls(exc):
        return error(
            "network.tls",
            f"The TLS handshake with {where} failed: {said}",
            provider=provider,
            fix="Check the system clock, CA certificates (SSL_CERT_FILE), or an intercepting proxy.",
        )
    return error(
        "network.connect",
        f"Cannot connect to {where}: {said}",
        provider=provider,
        fix=f"Check that {host} is reachable (network, firewall, VPN) and the configured URL.",
    )


@contextmanager
def transport_errors(provider: str | None, url: str, *, keys: Iterable[Key | str] = ()) -> Iterator[None]:
    """Turn httpx transport exceptions raised inside the block into network.* GenctlErrors."""
    try:
        yield
    except REQUEST_ERRORS as exc:
        raise scrub_error(map_transport_error(exc, provider=provider, url=url), keys) from exc


def scrub_error(err: GenctlError, keys: Iterable[Key | str]) -> GenctlError:
    """`err`, or a copy of it with every secret of `keys` masked in its message, fix and details."""
    keys = list(keys)
    message, fix = redact(err.message, keys), redact(err.fix, keys)
    details = json.loads(redact(json.dumps(err.details), keys)) if err.details else err.details
    if (message, fix, details) == (err.message, err.fix, err.details):
        return err
    return error(
        err.code,
        message,
        fix=fix,
        provider=err.provider,
        http_status=err.http_status,
        request_id=err.request_id,
        details=details,
    )


def _auth_shown(value: str) -> str:
    """An Authorization value with the key replaced by its env var: `Key $FAL_KEY`."""
    scheme = value.split(" ", 1)[0]
    variable = "$FAL_KEY" if scheme.lower() == "key" else "$REPLICATE_API_TOKEN"
    return f"{scheme} {variable}"


def _curl_auth(value: str) -> str:
    return f'"Authorization: {_auth_shown(value)}"'  # double quotes so the shell expands the variable


def shown_headers(request: HttpRequest) -> dict[str, str]:
    """The request's headers as --dry-run shows them: the key replaced by its env var name."""
    headers = dict(request.headers)
    if request.json is not None and not any(h.lower() == "content-type" for h in headers):
        headers["Content-Type"] = "application/json"
    return {name: _auth_shown(v) if name.lower() == "authorization" else v for name, v in headers.items()}


def full_url(request: HttpRequest) -> str:
    """The URL with its query parameters, as sent."""
    return str(httpx.URL(request.url, params=request.params)) if request.params else request.url


def to_curl(request: HttpRequest) -> str:
    """An exact, copy-pastable curl line for `--dry-run`; the key shows as $FAL_KEY / $REPLICATE_API_TOKEN."""
    url = full_url(request)
    parts = ["curl", "-sS"]
    if request.method != "GET":
        parts += ["-X", request.method]
    parts.append(shlex.quote(url))
    headers = dict(request.headers)
    if request.json is not None and not any(h.lower() == "content-type" for h in headers):
        headers["Content-Type"] = "application/json"
    for name, value in headers.items():
        if name.lower() == "authorization":
            parts += ["-H", _curl_auth(value)]
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if request.json is not None:
        parts += ["--data-raw", shlex.quote(json.dumps(request.json, ensure_ascii=False))]
    for field_name, (file_name, _data, mime) in (request.files or {}).items():
        parts += ["-F", shlex.quote(f"{field_name}=@{file_name};type={mime}")]
    return " ".join(parts)


def redact(text: str, keys: Iterable[Key | str]) -> str:
    """`text` with every secret of `keys` masked in every form a message can carry it: raw, repr/JSON-escaped,
    URL-encoded, base64 (whole, or any slice of echoes.MIN_ECHO characters or more, at each alignment), and a
    fal key's secret half; and any URL's user:password@."""
    for key in keys:
        secret = key.reveal() if isinstance(key, Key) else key
        provider = key.provider if isinstance(key, Key) else registry.guess_by_key(secret).name
        secret = secret.strip()
        if not secret:
            continue
        masked = mask(secret, provider)
        _, sep, half = secret.partition(":")
        forms = [(form, masked) for form in secret_forms(secret)]
        if sep and len(half) >= 8:
            forms += [(form, "…" + half[-4:]) for form in secret_forms(half)]
        for form, shown in sorted(forms, key=lambda pair: -len(pair[0])):
            text = text.replace(form, shown)
        # any slice of >= echoes.MIN_ECHO characters of a base64 form (a server quoting part of one)
        halves = ((half, "…" + half[-4:]),) if sep and len(half) >= 8 else ()
        text = mask_echoes(text, ((secret, masked), *halves))
    return mask_userinfo(text)


def mask_userinfo(text: str) -> str:
    """Every `scheme://user:password@` in `text` as `scheme://user:***@` (a lone user part may be a token)."""
    if "@" not in text or "://" not in text:
        return text  # the regex costs ~60 ms a megabyte: most messages cannot hold a URL's user part
    return _USERINFO.sub(lambda m: f"{m[1]}{m[2]}:***@" if m[3] else f"{m[1]}***@", text)


def secret_forms(secret: str) -> list[str]:
    """Every text a secret can turn into inside a message: itself, escaped, percent-encoded, hex, base64."""
    raw = secret.encode("utf-8", "surrogatepass")
    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(raw)[2:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
    }
    forms |= {form.lower() for form in forms if "%" in form}
    forms |= {raw.hex(), raw.hex().upper()}  # a debug dump of the bytes sent
    for start in range(3):
        # base64 of text holding the secret at any offset contains the encoding of one of these 3 slices.
        chunk = raw[start:][: (len(raw) - start) // 3 * 3]
        if len(chunk) >= 6:
            forms.add(base64.b64encode(chunk).decode())
            forms.add(base64.urlsafe_b64encode(chunk).decode())
    return [form for form in forms if len(form) >= 6]


def redacted_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers safe to log: the Authorization value is reduced to its scheme and a masked key."""
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, secret = value.partition(" ")
            owner = registry.by_auth_scheme(scheme) or registry.guess_by_key(secret)
            value = f"{scheme} {mask(secret, owner.name)}"
        out[name] = value
    return out


def same_host(url: object, base: str) -> str | None:
    """`url` when it is a URL with the scheme, host and port of `base`, else None: a URL a server names
    (fal's status_url, Replicate's urls.get) receives the key only when it points where the key already goes.
    """
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        theirs, ours = httpx.URL(url.strip()), _origin(base)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if theirs.userinfo or (theirs.scheme, theirs.host, theirs.port) != ours:
        return None
    return url.strip()


@functools.lru_cache(maxsize=16)
def _origin(base: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a configured API URL: parsed once, not on every job a batch submits."""
    parsed = httpx.URL(base)
    return parsed.scheme, parsed.host, parsed.port
