"""Uploading a local `-i` file to the provider's own storage, for inputs too big to send inline.

fal: fal-client's storage protocol (fal-api.md §4) against the configured hosts; Replicate: `POST /files`
(replicate-api.md §4). `upload()` picks the provider's way.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from genctl import deadline
from genctl.errors import GenctlError, error
from genctl.http import RetryPolicy, send, transport_errors
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider

if TYPE_CHECKING:
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
# Files stream from disk: memory holds a block (one request) or FAL_PART_CONCURRENCY parts (multipart), never
# the file (fal-client reads it whole below its 100 MB multipart threshold, and 10 parts of 10 MB above).
STREAM_BLOCK = 1024 * 1024
FAL_PART_SIZE = 10 * 1024 * 1024  # fal-client's MULTIPART_CHUNK_SIZE
FAL_PART_CONCURRENCY = 2


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

    with path.open("rb") as file:  # streamed from disk by httpx's multipart encoder, 64 KB at a time
        request = provider.upload_request(
            file_name=path.name, data=file, content_type=mime_type(path), key=key
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
    # Lazy import: the fal SDK loads only when a file goes to fal storage (start-up of every other run).
    import fal_client
    import fal_client.client as fal_module

    with _FAL_GLOBALS, transport_errors("fal", provider.rest_url, keys=[key]):
        saved = (fal_module.REST_URL, fal_module.CDN_URL, fal_module.MAX_ATTEMPTS)
        sdk = fal_client.SyncClient(key=key.sendable(), default_timeout=timeout)
        opened = _track_cdn_clients(sdk)
        try:
            fal_module.REST_URL, fal_module.MAX_ATTEMPTS = provider.rest_url, FAL_MAX_ATTEMPTS
            # The upload host: configured, else the one the storage token names (its `base_url`, §4).
            cdn_url = provider.cdn_url or sdk._token_manager.get_token().base_upload_url
            fal_module.CDN_URL = cdn_url.rstrip("/")
            return _stream_to_fal(sdk, fal_module, path)
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


def file_blocks(path: Path, *, start: int = 0, length: int | None = None) -> Iterator[bytes]:
    """The bytes of `path` from `start` (`length` of them, or to the end), STREAM_BLOCK at a time."""
    left = path.stat().st_size - start if length is None else length
    with path.open("rb") as file:
        file.seek(start)
        while left > 0 and (block := file.read(min(STREAM_BLOCK, left))):
            left -= len(block)
            yield block


def _stream_to_fal(sdk: Any, fal_module: Any, path: Path) -> str:
    """fal-client 1.0.3's `upload_file` (fal-api.md §4), streamed from disk: its multipart route above its
    threshold (parts read from disk, FAL_PART_CONCURRENCY at once), else one `POST {CDN}/files/upload`
    whose body is read block by block, and on failure its fallback (initiate + PUT to the signed URL)."""
    size, content_type = path.stat().st_size, mime_type(path)
    if size > fal_module.MULTIPART_THRESHOLD:
        return _fal_multipart(sdk, fal_module, path, size, content_type)
    headers = {"Content-Type": content_type, "X-Fal-File-Name": path.name, "Content-Length": str(size)}
    try:
        response = _fal_retrying(
            fal_module,
            lambda: fal_module._request(
                sdk._get_cdn_client(),
                "POST",
                f"{fal_module.CDN_URL}/files/upload",
                content=file_blocks(path),
                headers=headers,
            ),
        )
        url: str = response.json()["access_url"]
        return url
    except Exception:  # fal-client falls back to its older storage the same way (DEFAULT_UPLOAD_FALLBACK…)
        initiate = fal_module._maybe_retry_request(
            sdk._client,
            "POST",
            f"{fal_module.REST_URL}/storage/upload/initiate?storage_type=gcs",
            json=fal_module._storage_upload_payload(path.name, content_type),
            headers=fal_module._storage_upload_headers(sdk._auth, None),
        ).json()
    put_headers = {"Content-Type": content_type, "Content-Length": str(size)}
    _fal_retrying(
        fal_module,
        lambda: fal_module._request(
            sdk._client,
            "PUT",
            initiate["upload_url"],
            content=file_blocks(path),
            headers=put_headers,
            timeout=None,
        ),
    )
    file_url: str = initiate["file_url"]
    return file_url


def _fal_multipart(sdk: Any, fal_module: Any, path: Path, size: int, content_type: str) -> str:
    """fal-client's MultipartUpload (create, PUT each part, complete), each part read from disk when sent."""
    cdn, lock = sdk._get_cdn_client(), threading.Lock()
    multipart = fal_module.MultipartUpload(
        file_name=path.name,
        client=cdn,
        token_manager=sdk._token_manager,
        chunk_size=FAL_PART_SIZE,
        content_type=content_type,
    )
    multipart.create()

    def send_part(number: int) -> None:
        # MultipartUpload.upload_part's request, with the part streamed from disk rather than held as bytes
        # (an httpx Request in a reference cycle kept finished parts alive until the next collection).
        start = (number - 1) * FAL_PART_SIZE
        length = min(FAL_PART_SIZE, size - start)
        headers = {
            **multipart.auth_headers,
            "Content-Type": content_type,
            "Accept-Encoding": "identity",  # fal-client: so the answer keeps its ETag
            "Content-Length": str(length),
        }
        url = f"{multipart.access_url}/multipart/{multipart.upload_id}/{number}"
        response = _fal_retrying(
            fal_module,
            lambda: fal_module._request(
                cdn,
                "PUT",
                url,
                headers=headers,
                content=file_blocks(path, start=start, length=length),
                timeout=None,
            ),
        )
        with lock:
            multipart._parts.append({"partNumber": number, "etag": response.headers["etag"]})

    parts = range(1, -(-size // FAL_PART_SIZE) + 1)
    with ThreadPoolExecutor(max_workers=FAL_PART_CONCURRENCY, thread_name_prefix="genctl-part") as pool:
        for done in [pool.submit(deadline.carried(send_part), n) for n in parts]:
            done.result()
    # UNVERIFIED: whether fal's CDN needs the parts in order in `complete` (fal-client sends them in the
    # order they finished); in order is what S3-style multipart requires, and either CDN answer accepts it.
    multipart._parts.sort(key=lambda part: part["partNumber"])
    url: str = multipart.complete()
    return url


def _fal_retrying(fal_module: Any, call: Callable[[], Any]) -> Any:
    """`call()`, retried as fal-client retries (its codes and back-off), up to its MAX_ATTEMPTS; each try
    re-reads the file, so a streamed body can be sent again."""
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:
            if attempt >= fal_module.MAX_ATTEMPTS or not fal_module._should_retry(exc, []):
                raise
            time.sleep(
                fal_module._get_retry_delay(
                    attempt, fal_module.BASE_DELAY, fal_module.MAX_DELAY, "exponential", True
                )
            )
            attempt += 1


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
