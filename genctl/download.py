"""Saving outputs: streamed to disk in constant memory, written atomically, never overwriting a file.

A download goes to a hidden temp file in the destination folder and is linked into place only once
complete, so an interrupted transfer never leaves a file that looks finished.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import mimetypes
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import httpx

from genctl import deadline as limits
from genctl.errors import GenctlError, error
from genctl.http import map_transport_error
from genctl.paths import umask

if TYPE_CHECKING:
    from genctl.providers.base import Output

CHUNK = 1 << 20
# Without --timeout a download still ends: 60 s plus its size at 64 KiB/s, at most 30 minutes.
DOWNLOAD_BASE = 60.0
DOWNLOAD_MIN_RATE = 64 * 1024
DOWNLOAD_MAX = 1800.0
MIN_FREE = 1 << 20  # bytes: a folder with less free space than this cannot take an output
_NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
# mimetypes' first guesses are not the ones people expect (.jpe, .mp4v …).
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "model/gltf-binary": ".glb",
    "application/json": ".json",
    "text/plain": ".txt",
}


@dataclass(frozen=True)
class SavedFile:
    """One output as the user gets it: where it came from and where it now is."""

    url: str | None
    path: Path | None
    content_type: str | None
    bytes: int

    def to_json(self) -> dict[str, object]:
        return {
            "url": None if self.url and self.url.startswith("data:") else self.url,
            "path": str(self.path) if self.path else None,
            "content_type": self.content_type,
            # A file never fetched (--no-download) has no size: null, not 0 bytes.
            "bytes": self.bytes if self.path is not None else None,
        }


def slug(model: str) -> str:
    """`fal-ai/flux/dev` -> `fal-ai-flux-dev`; `owner/name:0123…` -> `owner-name`."""
    base = model.split(":", 1)[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.").lower() or "output"


def extension(content_type: str | None, url: str | None) -> str:
    """The file extension from the content type, else from the URL path, else `.bin`."""
    if content_type:
        bare = content_type.split(";", 1)[0].strip().lower()
        if bare in _EXTENSIONS:
            return _EXTENSIONS[bare]
        guessed = mimetypes.guess_extension(bare)
        if guessed:
            return guessed
    if url and not url.startswith("data:"):
        suffix = Path(urllib.parse.urlsplit(url).path).suffix.lower()
        if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
            return ".jpg" if suffix == ".jpeg" else suffix
    return ".bin"


def output_name(model: str, request_id: str, index: int, content_type: str | None, url: str | None) -> str:
    """`<model-slug>-<request-id-prefix>-<n>.<ext>` (n counts from 1)."""
    prefix = re.sub(r"[^A-Za-z0-9]", "", request_id)[:8] or "job"
    return f"{slug(model)}-{prefix}-{index}{extension(content_type, url)}"


def decode_data_uri(uri: str) -> tuple[str | None, bytes]:
    """(`content type`, bytes) of a `data:` URI."""
    head, sep, payload = uri.partition(",")
    if not sep or not head.startswith("data:"):
        raise error("generation.failed", "The provider returned a malformed data: URI as output.")
    meta = head[5:].split(";")
    content_type = meta[0] or None
    try:
        data = (
            base64.b64decode(payload, validate=False)
            if "base64" in meta[1:]
            else urllib.parse.unquote_to_bytes(payload)
        )
    except (binascii.Error, ValueError) as exc:
        raise error("generation.failed", "The provider returned an undecodable data: URI.") from exc
    return content_type, data


def write_atomic(dest_dir: Path, name: str, chunks: Iterable[bytes]) -> tuple[Path, int]:
    """Write `chunks` to `dest_dir/name` atomically; if the name is taken, use `stem-2.ext`, `stem-3.ext`…

    The data goes to a temp file beside the target first; it is linked into place only when complete
    (os.link fails rather than replace an existing file, so a concurrent writer can never be clobbered).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            size = _copy(chunks, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644 & ~umask())
        final = _link_unique(tmp, dest_dir, name)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        tmp.unlink()
    return final, size


def _copy(chunks: Iterable[bytes], fh: BinaryIO) -> int:
    size = 0
    for chunk in chunks:
        fh.write(chunk)
        size += len(chunk)
    return size


def _link_unique(tmp: Path, dest_dir: Path, name: str) -> Path:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    for n in range(1, 10_000):
        candidate = dest_dir / (name if n == 1 else f"{stem}-{n}{dot}{ext}")
        try:
            os.link(tmp, candidate)
        except FileExistsError:
            continue
        except OSError:
            # Filesystems without hard links: fall back to an exists-check + rename.
            if candidate.exists():
                continue
            os.replace(tmp, candidate)
        return candidate
    raise error(
        "usage.invalid", f"Too many files named like {name} in {dest_dir}.", fix="Use another -o folder."
    )


def _stream(
    client: httpx.Client,
    url: str,
    headers: Mapping[str, str],
    on_bytes: Callable[[int], None] | None,
    box: dict[str, str | None],
) -> Generator[bytes, None, None]:

    request = client.build_request("GET", url, headers=dict(headers))
    head = 2 * (client.timeout.read or 30.0)
    try:
        with limits.limit(head, f"the download's {head:g} s for its headers"):
            response = client.send(request, stream=True)
    except httpx.TransportError as exc:  # before the body: refused, reset, or closed before the headers
        raise map_transport_error(exc, provider=None, url=url) from exc
    try:
        _check_status(response, url)
        box["content_type"] = response.headers.get("content-type")
        seconds = body_limit(response.headers.get("content-length"))
        with limits.limit(seconds, f"the download's {seconds:g} s") as bound:
            try:
                for chunk in response.iter_bytes(CHUNK):
                    if on_bytes:
                        on_bytes(len(chunk))
                    yield chunk
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.TimeoutException) and bound is not None and limits.expired():
                    raise error(
                        "network.timeout",
                        f"The download of {url} did not finish within {bound.what}; "
                        "no partial file was kept.",
                        fix="Allow more time with --timeout; the result stays on the provider about an hour.",
                        details={"deadline": bound.what},
                    ) from exc
                raise error(
                    "network.connect",
                    f"The download of {url} was cut off ({type(exc).__name__}); no partial file was kept.",
                    fix="The result is still on the provider for about an hour: run the command again.",
                ) from exc
    finally:
        response.close()


def body_limit(content_length: str | None) -> float:
    """Wall-clock seconds a download's body may take, within --timeout: DOWNLOAD_BASE plus the size at
    DOWNLOAD_MIN_RATE, or DOWNLOAD_MAX when the size is not given. A body that trickles ends."""
    try:
        size = int(content_length) if content_length is not None else None
    except ValueError:
        size = None
    if size is None or size < 0:
        return DOWNLOAD_MAX
    return min(DOWNLOAD_MAX, DOWNLOAD_BASE + size / DOWNLOAD_MIN_RATE)


def _check_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status in (403, 404, 410):
        raise error(
            "output.expired",
            f"The output at {url} is gone (HTTP {status}).",
            fix="Outputs are kept for about an hour; run the generation again.",
            http_status=status,
        )
    if status >= 400:
        raise error(
            "provider.unavailable",
            f"Downloading {url} failed with HTTP {status}.",
            fix="Try again in a moment.",
            http_status=status,
        )


def check_destination(dest: Path) -> None:
    """Before a job is paid for: `dest` exists as a folder or can be created, can be written, has some free
    space. What cannot be known yet (the outputs' size) is left to the save, which fails atomically."""
    if dest.exists() and not dest.is_dir():
        raise error(
            "usage.invalid",
            f"The output folder {dest} is a file; nothing was submitted.",
            fix="Give -o a folder (it is created if missing), not a file.",
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".genctl-probe.", dir=dest)
        os.close(fd)
        os.unlink(probe)
        free = shutil.disk_usage(dest).free
    except OSError as exc:
        raise write_error(dest, exc, before=True) from exc
    if free < MIN_FREE:
        raise write_error(dest, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), before=True)


def write_error(dest: Path, exc: OSError, *, before: bool = False, url: str | None = None) -> GenctlError:
    """usage.invalid for a folder or file that cannot be written, with the fix that fits why."""
    said = exc.strerror or str(exc)
    if exc.errno in _NO_SPACE:
        fix, why = "Free some space, or choose another folder with -o.", "space"
    elif exc.errno in _NOT_WRITABLE:
        # The folder that refused: `dest` itself, or the nearest existing folder it was to be created in.
        refusing = next((p for p in (dest, *dest.parents) if p.exists()), dest)
        fix, why = f"Make {refusing} writable (chmod u+w), or choose another folder with -o.", "permission"
    else:
        fix, why = "Choose another folder with -o.", "other"
    if url is not None:
        fix += f" The output is still at {url} for about an hour."
    when = "; nothing was submitted" if before else ""
    return error(
        "usage.invalid",
        f"Cannot write in the output folder {dest}: {said}{when}.",
        fix=fix,
        details={"write": why},
    )


def save_output(
    client: httpx.Client,
    output: Output,
    *,
    dest_dir: Path,
    model: str,
    request_id: str,
    index: int,
    headers: Mapping[str, str] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> SavedFile:
    """Download (or decode) one output into `dest_dir`; returns where it went."""
    url = output.url
    if url is None:
        return SavedFile(url=None, path=None, content_type=output.content_type, bytes=0)
    if url.startswith("data:"):
        content_type, data = decode_data_uri(url)
        content_type = output.content_type or content_type
        name = output_name(model, request_id, index, content_type, None)
        path, size = write_atomic(dest_dir, name, [data])
        return SavedFile(url=url, path=path, content_type=content_type, bytes=size)
    box: dict[str, str | None] = {"content_type": None}
    chunks = _stream(client, url, headers or {}, on_bytes, box)
    # The name needs the content type, which arrives with the first response: peek one chunk.
    try:
        first = next(chunks, b"")
        return _finish(first, chunks, output, box, dest_dir, model, request_id, index, url)
    finally:
        chunks.close()


def _finish(
    first: bytes,
    chunks: Iterator[bytes],
    output: Output,
    box: dict[str, str | None],
    dest_dir: Path,
    model: str,
    request_id: str,
    index: int,
    url: str,
) -> SavedFile:
    content_type = output.content_type or (box["content_type"] or "").split(";")[0] or None
    name = output_name(model, request_id, index, content_type, url)
    try:
        path, size = write_atomic(dest_dir, name, _chain(first, chunks))
    except OSError as exc:
        raise write_error(dest_dir, exc, url=url) from exc
    return SavedFile(url=url, path=path, content_type=content_type, bytes=size)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
