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
        return upload_to_fal(
            path, provider=provider, key=key, timeout=max(timeout or 0.0, FAL_UPLOAD_TIMEOUT)
        )
    assert isinstance(provider, ReplicateProvider)
    return upload_to_replicate(path, provider=provider, key=key, client=client, policy=policy, sleep=sleep)


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
            raise provider.error_from_response(exc.response, key=key) from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise _fal_upload_malformed(exc) from exc
        finally:
            fal_module.REST_URL, fal_module.CDN_URL, fal_module.MAX_ATTEMPTS = saved
            for client in [*opened, sdk.__dict__.get("_client")]:
                if client is not None:
                    client.close()


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
