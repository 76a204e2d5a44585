"""Things fetched from a provider, kept as JSON files in the cache dir: atomic writes, corrupt files dropped.

Layout: `<cache_dir>/catalog/<provider>-<host>-<hash of the API URL>/<name>-<hash>.json`, one folder per API
URL so a sandbox, a gateway and the real API never mix their catalogues (`--sandbox`, whose port changes
every run, has the one folder named by `Settings.catalog_cache`). Each file is
`{"genctl_cache": 1, "name": …, "source": <API URL>, "fetched_at": <unix time>, "data": …}`.
The cache is best effort: a file that cannot be read or written is never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from genctl import paths

FORMAT = 1
MAX_SOURCES = 16  # API URLs kept; older folders go (a gateway per CI job, a sandbox served on many ports)
log = logging.getLogger("genctl.catalog.cache")


@dataclass(frozen=True)
class Entry:
    """A cached document and when it was fetched."""

    data: Any
    fetched_at: float
    path: Path


def _slug(text: str, size: int) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")[:size] or "x"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _public(url: str) -> str:
    """The URL without user:password or query string: a gateway URL may carry a token in either."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url  # a name, not a URL ("sandbox")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


class DiskCache:
    """JSON documents by (provider, API URL, name)."""

    def __init__(self, root: Path, *, on_notice: Callable[[str], None] | None = None) -> None:
        self.root = root
        self._notice = on_notice or (lambda message: None)

    def path(self, provider: str, source: str, name: str) -> Path:
        host = urlsplit(source).hostname or source  # a name ("sandbox") rather than a URL: itself
        folder = f"{provider}-{_slug(host, 40)}-{_digest(source)}"
        return self.root / folder / f"{_slug(name, 80)}-{_digest(name)}.json"

    def entries(self, provider: str, source: str) -> list[Entry]:
        """Every readable document cached for (provider, source); reads only (shell completion)."""
        folder = self.path(provider, source, "x").parent
        try:
            files = sorted(folder.glob("*.json"))
        except OSError:
            return []
        return [entry for entry in map(self.read, files) if entry is not None]

    def read(self, path: Path) -> Entry | None:
        """The entry, or None when there is none; a corrupt file is deleted (and refetched by the caller)."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.debug("cannot read cache file %s: %s", path, exc)
            return None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("genctl_cache") != FORMAT:
                raise ValueError("not a genctl cache file of this format")
            fetched_at = float(doc["fetched_at"])
            return Entry(data=doc["data"], fetched_at=fetched_at, path=path)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            self.discard(path)
            return None

    def discard(self, path: Path) -> None:
        """Delete a file whose content is unusable, saying so once."""
        with contextlib.suppress(OSError):
            path.unlink()
        self._notice(f"Discarded the unreadable cache file {path}; fetching it again.")

    def write(self, path: Path, *, source: str, name: str, data: Any, now: float) -> None:
        doc = {
            "genctl_cache": FORMAT,
            "name": name,
            "source": _public(source),
            "fetched_at": now,
            "data": data,
        }
        try:
            new_folder = not path.parent.exists()
            paths.write_private(path, json.dumps(doc, ensure_ascii=False).encode("utf-8"))
            if new_folder:
                self._prune()
        except (OSError, TypeError, ValueError) as exc:
            log.debug("cannot write cache file %s: %s", path, exc)

    def _prune(self) -> None:
        folders = sorted(
            (p for p in self.root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in folders[MAX_SOURCES:]:
            shutil.rmtree(old, ignore_errors=True)
