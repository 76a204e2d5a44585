"""Resolving `-i KEY=PATH_OR_URL` inputs: URLs pass through, small files go inline, large ones upload
(to the provider's storage, genctl.providers.uploads)."""

from __future__ import annotations

import base64
import os
import stat
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
    return f"data:{mime_type(path)};base64,{base64.b64encode(_read(path)).decode('ascii')}"


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
    """The `-i` path as a regular, readable file, or a usage error that says what it really is. Only
    `stat` is used to tell: opening a FIFO to look would block until something writes to it."""
    path = Path(value).expanduser()
    fix = "Pass a regular file you can read, or an http(s):// URL."
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise usage(f"Input file {str(path)!r} does not exist.", fix=fix) from None
    except PermissionError:
        raise usage(f"Input file {str(path)!r} cannot be read: permission denied.", fix=fix) from None
    except OSError as exc:
        raise usage(f"Input file {str(path)!r} cannot be read: {exc.strerror or exc}.", fix=fix) from None
    except ValueError:  # a NUL byte (from a batch file's "inputs"; argv cannot carry one)
        raise usage(f"Input file {str(path)!r} is not a path: it holds a NUL character.", fix=fix) from None
    what = _not_a_file(mode)
    if what:
        raise usage(f"Input file {str(path)!r} {what}.", fix=fix)
    if not os.access(path, os.R_OK):
        raise usage(f"Input file {str(path)!r} cannot be read: permission denied.", fix=fix)
    return path


def _not_a_file(mode: int) -> str:
    """What a non-regular file is, in words ("" for a regular file)."""
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a file; genctl does not read from pipes"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    return ""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise usage(
            f"Input file {str(path)!r} cannot be read: {exc.strerror or exc}.",
            fix="Pass a regular file you can read, or an http(s):// URL.",
        ) from None


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
