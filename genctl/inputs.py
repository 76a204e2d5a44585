"""Resolving `-i KEY=PATH_OR_URL` inputs: URLs pass through, small files go inline, large ones upload
(to the provider's storage, genctl.providers.uploads)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl.errors import usage
from genctl.providers.uploads import mime_type, upload

if TYPE_CHECKING:
    import httpx

    from genctl.http import RetryPolicy
    from genctl.providers.base import Provider
    from genctl.settings import ProviderSettings
    from genctl.values import Key

_PASS_THROUGH = ("https://", "http://", "data:")


def data_uri(path: Path) -> str:
    """The file inline as `data:<mime>;base64,…` (no network)."""
    return f"data:{mime_type(path)};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def resolve_inputs(
    params: dict[str, Any],
    *,
    input_keys: Iterable[str],
    provider: Provider,
    key: Key,
    client: httpx.Client,
    threshold: int,
    settings: ProviderSettings | None = None,
    policy: RetryPolicy | None = None,
) -> dict[str, Any]:
    """`params` with the values of `input_keys` (the `-i` items) resolved to URLs or data: URIs."""
    resolved = dict(params)
    for name in input_keys:
        resolved[name] = resolve_input(
            str(params[name]),
            provider=provider,
            key=key,
            client=client,
            upload_threshold=threshold,
            policy=policy,
            upload_timeout=settings.timeout if settings is not None else None,
        )
    return resolved


def dry_inputs(
    params: dict[str, Any],
    *,
    input_keys: Iterable[str],
    threshold: int,
    storage: str,
    on_notice: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`params` as `resolve_inputs` would send them, without the network (--dry-run): small files inline
    as the same data: URIs, a file to upload as a placeholder (a dry run uploads nothing), said on
    `on_notice`."""
    resolved = dict(params)
    for name in input_keys:
        value = str(params[name])
        if value.startswith(_PASS_THROUGH):
            continue
        path = _local_file(value)
        size = path.stat().st_size
        if size < threshold:
            resolved[name] = data_uri(path)
            continue
        resolved[name] = f"<URL of {path.name} once uploaded to {storage}>"
        if on_notice is not None:
            on_notice(
                f"-i {name}={value}: a {size:,}-byte file is uploaded to {storage} before the submit; "
                f"a dry run uploads nothing, so {name} shows a placeholder for its URL."
            )
    return resolved


def _local_file(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise usage(f"Input file {str(path)!r} {what}.", fix="Pass an existing file, or an http(s):// URL.")
    return path


def resolve_input(
    value: str,
    *,
    provider: Provider,
    key: Key,
    client: httpx.Client,
    upload_threshold: int,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    upload_timeout: float | None = None,
) -> str:
    """One input value: URLs as given; a local file inline below the threshold, else uploaded."""
    if value.startswith(_PASS_THROUGH):
        return value
    path = _local_file(value)
    if path.stat().st_size < upload_threshold:
        return data_uri(path)
    return upload(
        path, provider=provider, key=key, client=client, policy=policy, sleep=sleep, timeout=upload_timeout
    )
