"""Tracker: writes one job's life into history as it happens, and never lets the database fail a job.

`genctl.generation` feeds it the runner's events (an `unconfirmed` row on "submitting", just before the paid
submit goes out; the same row becomes the job's on "submitted", before the first status poll), the result,
and each output as it is saved; `genctl.history.recovery` uses it for `genctl result`.
A database that cannot be written (read-only state dir, disk full) costs a warning, once: the paid job
goes on without its history.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl.history.unconfirmed import input_fingerprint

if TYPE_CHECKING:
    from genctl.download import SavedFile
    from genctl.errors import GenctlError
    from genctl.history import BatchRef, History, Status
    from genctl.providers.base import Job, Output, Result
    from genctl.runner import Event
    from genctl.values import Key

log = logging.getLogger("genctl.history")
Warn = Callable[[str], None]


def output_entries(outputs: Sequence[Output]) -> list[dict[str, Any]]:
    """Outputs as history keeps them. A data: URI is not stored (it can be megabytes): `inline` marks it,
    and `genctl result` fetches the result again for it."""
    entries: list[dict[str, Any]] = []
    for output in outputs:
        inline = bool(output.url and output.url.startswith("data:"))
        entry: dict[str, Any] = {
            "url": None if inline else output.url,
            "content_type": output.content_type,
            "path": None,
            "bytes": None,
        }
        if inline:
            entry["inline"] = True
        if output.url is None and output.value is not None:
            entry["value"] = output.value
        entries.append(entry)
    return entries


def with_saved(entries: list[dict[str, Any]], index: int, saved: SavedFile) -> list[dict[str, Any]]:
    """`entries` with output `index` (1-based) marked saved at `saved.path` (absolute)."""
    updated = [dict(entry) for entry in entries]
    while len(updated) < index:
        updated.append({"url": None, "content_type": None, "path": None, "bytes": None})
    entry = updated[index - 1]
    entry["path"] = str(saved.path.resolve()) if saved.path is not None else None
    entry["bytes"] = saved.bytes
    entry["content_type"] = entry.get("content_type") or saved.content_type
    return updated


class Tracker:
    """One job's row. Every method is a no-op without a history (off, or given up after an error)."""

    def __init__(self, history: History | None, *, warn: Warn | None = None) -> None:
        self.history = history
        self.warn = warn
        self.job: Job | None = None
        self.entries: list[dict[str, Any]] = []
        self._state: str | None = None
        self.placeholder: str | None = None  # the unconfirmed row of the submit in flight
        self._sent_to = ""  # its provider

    @classmethod
    def of_job(
        cls, history: History | None, job: Job, outputs: Sequence[Output], *, warn: Warn | None = None
    ) -> Tracker:
        """A tracker for a row written earlier (outputs being saved, `genctl result`)."""
        tracker = cls(history, warn=warn)
        tracker.job = job
        tracker.entries = output_entries(outputs)
        return tracker

    @property
    def active(self) -> bool:
        return self.history is not None and self.job is not None

    @property
    def unconfirmed(self) -> bool:
        """A submit went out and history holds its unconfirmed row (`genctl result --pending` can find it)."""
        return self.history is not None and self.placeholder is not None and self.job is None

    def sending(
        self,
        *,
        provider: str,
        model: str,
        key: Key,
        prompt: str | None,
        params: Mapping[str, Any],
        sent: Mapping[str, Any],
        output_dir: Path | None,
        batch: BatchRef | None,
    ) -> None:
        """The paid submit goes out now: its `unconfirmed` row, so that a lost answer still leaves a trace.
        `sent` is the input exactly as submitted (uploads resolved), for its fingerprint."""
        self.placeholder, self._sent_to = None, provider
        if self.history is None:
            return
        history = self.history

        def write() -> None:
            self.placeholder = history.add_unconfirmed(
                provider=provider,
                model=model,
                key=key,
                prompt=prompt,
                params=params,
                fingerprint=input_fingerprint(sent),
                output_dir=output_dir,
                batch=batch,
            )

        self._safely(write)

    def refused(self) -> None:
        """The submit was answered without a job (a 4xx, a refused connection): nothing to find later."""
        placeholder, self.placeholder = self.placeholder, None
        if self.history is not None and placeholder is not None and self.job is None:
            history, provider = self.history, self._sent_to
            self._safely(lambda: history.discard(provider, placeholder))

    def submitted(
        self,
        job: Job,
        key: Key,
        *,
        prompt: str | None,
        params: Mapping[str, Any],
        output_dir: Path | None,
        batch: BatchRef | None,
    ) -> None:
        self.job = job
        if self.history is not None:
            history, placeholder = self.history, self.placeholder
            if placeholder is not None:
                self._safely(lambda: history.confirm(placeholder, job))
                return
            self._safely(
                lambda: history.add(
                    job=job, key=key, prompt=prompt, params=params, output_dir=output_dir, batch=batch
                )
            )

    def event(self, event: Event) -> None:
        """queued / running as the runner sees them; written only when the state changes."""
        if event.kind in ("queued", "running") and event.kind != self._state:
            self._state = event.kind
            self.status(event.kind)

    def status(self, status: Status, **changes: Any) -> None:
        if self.history is not None and self.job is not None:
            history, job = self.history, self.job
            self._safely(lambda: history.set_status(job.provider, job.request_id, status, **changes))

    def succeeded(self, result: Result) -> None:
        self.entries = output_entries(result.outputs)
        self.status(
            "succeeded",
            outputs=self.entries,
            result_bytes=result_size(result.raw),
            error_code=None,
            error_message=None,
        )

    def failed(self, err: GenctlError) -> None:
        self.status("failed", error_code=err.code, error_message=err.message)

    def saved(self, index: int, saved: SavedFile) -> None:
        self.entries = with_saved(self.entries, index, saved)
        self.update(outputs=self.entries)

    def all_saved(self, output_dir: Path | None) -> None:
        if self.history is None:
            return
        changes: dict[str, Any] = {"saved_at": self.history.clock()}
        if output_dir is not None:
            changes["output_dir"] = str(output_dir.resolve())
        self.update(**changes)

    def update(self, **changes: Any) -> None:
        if self.history is not None and self.job is not None:
            history, job = self.history, self.job
            self._safely(lambda: history.update(job.provider, job.request_id, **changes))

    def _safely(self, write: Callable[[], None]) -> None:
        try:
            write()
        except (sqlite3.Error, OSError) as exc:
            path = self.history.path if self.history is not None else "history"
            self.history = None  # one warning, then the job goes on without history
            reason = getattr(exc, "strerror", None) or str(exc)
            message = f"cannot write the job history {path} ({reason}): this job is not recorded"
            log.debug("history disabled: %r", exc)
            if self.warn is not None:
                self.warn(message)


def result_size(raw: Any) -> int | None:
    """The result body's size in bytes (fal keeps results over 10 KB only 6 minutes: fal-api.md §1.1)."""
    if raw is None:
        return None
    try:
        return len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        return None
