"""Uploading a local `-i` file to the provider's own storage, for inputs too big to send inline.

fal: fal-client's storage protocol (fal-api.md §4) against the configured hosts; Replicate: `POST /files`
(replicate-api.md §4). `upload()` picks the provider's way.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl import deadline
from genctl.errors import GenctlError, error
from genctl.http import RetryPolicy, send, transport_errors
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider

if TYPE_CHECKING:
    import httpx

    from genctl.http import RetryPolicy
    from genctl.providers.base import Provider
    from genctl.values import Key

# fal_client's hosts are module globals: one upload at a time reconfigures them.
_FAL_GLOBALS = threading.Lock()
FAL_MAX_ATTEMPTS = 2  # fal_client retries 10 times over ~38 s by default (fal-api.md §5.3)
FAL_UPLOAD_TIMEOUT = 120.0  # seconds, at least: a large file on a slow link
# fal-client's sockets are out of genctl.deadline's reach: its upload runs on a daemon thread that is
# waited for at most this long (plus the file's size at UPLOAD_MIN_RATE), and never past --timeout.
UPLOAD_BASE = 60.0
UPLOAD_MIN_RATE = 64 * 1024
UPLOAD_MAX = 1800.0


def mime_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def upload(
    path: Path,
    *,
    provider: Provider,
    key: Key,
    client: httpx.Client,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float | None = None,
) -> str:
    """The URL the provider's models read the uploaded file from."""
    if isinstance(provider, FalProvider):
        return within_limit(
            lambda: upload_to_fal(
                path, provider=provider, key=key, timeout=max(timeout or 0.0, FAL_UPLOAD_TIMEOUT)
            ),
            seconds=min(UPLOAD_MAX, UPLOAD_BASE + path.stat().st_size / UPLOAD_MIN_RATE),
            what=f"the upload of {path.name}",
        )
    assert isinstance(provider, ReplicateProvider)
    return upload_to_replicate(path, provider=provider, key=key, client=client, policy=policy, sleep=sleep)


def within_limit(work: Callable[[], str], *, seconds: float, what: str) -> str:
    """`work()` on a daemon thread, waited for `seconds` at most and never past the innermost limit."""
    left = deadline.remaining()
    wait = seconds if left is None else min(seconds, left)
    box: list[str | BaseException] = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # handed to the waiting thread
            box.append(exc)

    worker = threading.Thread(target=run, name="genctl-upload", daemon=True)
    worker.start()
    worker.join(wait)
    if not box:
        bound = deadline.current()
        limit = bound.what if bound is not None and left is not None and left <= seconds else f"{seconds:g} s"
        raise error(
            "generation.timeout"
            if bound is not None and bound.command and left is not None
            else "network.timeout",
            f"Gave up on {what}: it did not finish within {limit}; nothing was submitted.",
            fix="Allow more time with --timeout, or pass the file as an https:// URL.",
            provider="fal",
            details={"deadline": limit, "sent": False},
        )
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result


def upload_to_replicate(
    path: Path,
    *,
    provider: ReplicateProvider,
    key: Key,
    client: httpx.Client,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """`POST /files` (replicate-api.md §4) and the file's `urls.get`, to pass as the input value."""

    request = provider.upload_request(
        file_name=path.name, data=path.read_bytes(), content_type=mime_type(path), key=key
    )
    response = send(client, request, policy=policy or RetryPolicy(), sleep=sleep, provider=provider.name)
    if not response.is_success:
        raise provider.error_from_response(response, key=key)
    return provider.parse_upload(response)


def upload_to_fal(path: Path, *, provider: FalProvider, key: Key, timeout: float = 120.0) -> str:
    """Upload with fal-client (fal's storage protocol) to the configured hosts, the key passed explicitly.

    fal_client reads REST_URL / CDN_URL / MAX_ATTEMPTS from module globals at call time (fal-api.md §5.2), so
    they are set for the duration of the upload and restored after. The key is always given to SyncClient so
    a `fal auth login` token in ~/.fal is never used (§2.1).
    """
    import fal_client
    import fal_client.client as fal_module
    import httpx

    with _FAL_GLOBALS, transport_errors("fal", provider.rest_url, keys=[key]):
        saved = (fal_module.REST_URL, fal_module.CDN_URL, fal_module.MAX_ATTEMPTS)
        sdk = fal_client.SyncClient(key=key.sendable(), default_timeout=timeout)
        opened = _track_cdn_clients(sdk)
        try:
            fal_module.REST_URL, fal_module.MAX_ATTEMPTS = provider.rest_url, FAL_MAX_ATTEMPTS
            # The upload host: configured, else the one the storage token names (its `base_url`, §4).
            cdn_url = provider.cdn_url or sdk._token_manager.get_token().base_upload_url
            fal_module.CDN_URL = cdn_url.rstrip("/")
            url: str = sdk.upload_file(path)
            return url
        except (fal_client.FalClientHTTPError, httpx.HTTPStatusError) as exc:
            if _from_rest_api(exc.response, provider):  # the API key itself was refused (token, initiate)
                raise provider.error_from_response(exc.response, key=key) from exc
            raise _cdn_refused(exc.response, path) from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise _fal_upload_malformed(exc) from exc
        finally:
            fal_module.REST_URL, fal_module.CDN_URL, fal_module.MAX_ATTEMPTS = saved
            for client in [*opened, sdk.__dict__.get("_client")]:
                if client is not None:
                    client.close()


def _from_rest_api(response: httpx.Response, provider: FalProvider) -> bool:
    """Whether a failed answer came from fal's REST API (which sees the API key), not the CDN."""
    try:
        url = str(response.request.url)
    except RuntimeError:  # a response built without its request
        return True
    return url.startswith(provider.rest_url.rstrip("/"))


def _cdn_refused(response: httpx.Response, path: Path) -> GenctlError:
    """The CDN refused the upload itself. It authenticates with a short-lived storage token, not the API
    key, so this says nothing about the key (left untouched); a 404 on the multipart route (files over
    fal-client's multipart threshold) is not a missing model. UNVERIFIED: the live CDN's answers to an
    expired token and to a multipart route it lacks; either is an upload failure here."""
    import httpx

    try:
        host = response.request.url.host
    except RuntimeError:
        host = "the CDN"
    try:
        said = " ".join(response.read().decode(errors="replace").split())[:200]
    except (httpx.HTTPError, httpx.StreamError):
        said = ""
    return error(
        "provider.unavailable",
        f"fal storage refused the upload of {path.name} (HTTP {response.status_code} from {host}"
        f"{': ' + said if said else ''}); nothing was submitted.",
        fix="Try again (the upload gets a fresh storage token), or pass the file as an https:// URL.",
        provider="fal",
        http_status=response.status_code,
        details={"stage": "upload", "host": host},
    )


def _track_cdn_clients(sdk: Any) -> list[httpx.Client]:
    """fal_client opens an httpx.Client per upload and never closes it: collect them to close."""
    opened: list[httpx.Client] = []
    make = sdk._get_cdn_client

    def tracked() -> httpx.Client:
        client: httpx.Client = make()
        opened.append(client)
        return client

    object.__setattr__(sdk, "_get_cdn_client", tracked)  # SyncClient is a frozen dataclass
    return opened


def _fal_upload_malformed(exc: Exception) -> GenctlError:
    return error(
        "provider.unavailable",
        f"fal storage answered something unexpected during the upload ({type(exc).__name__}).",
        fix="Check the fal rest_url setting, or pass the file as an https:// URL instead.",
        provider="fal",
    )
