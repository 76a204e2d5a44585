"""History: a SQLite record of every job a provider accepted, so no paid result is ever lost.

One table, `jobs`, in `history.db` in the state dir. A row is written just before the paid submit goes
out, as `unconfirmed` (sent, job id unknown: its `request_id` is a placeholder `unconfirmed-…`, and it holds
the provider, model, key label, the time sent and `input_fingerprint`, the sha256 of the input's canonical
JSON). When the provider's answer names the job, that same row takes the job's id and moves on:
`submitted` → `queued` → `running` → `succeeded` | `failed`, then each output's local path as it is saved
(`saved_at` once all are). A submit the provider refused deletes its row; one whose answer never arrived
(a timeout, an undecodable body, Ctrl-C, a killed process) leaves it `unconfirmed`, and `genctl result
--pending` finds the job in the provider's own list of recent requests (genctl.history.unconfirmed).
Rows hold the key's label and fingerprint (sha256[:12]), never the key.

Several genctl processes and threads write at once, each change one short transaction: see
genctl.history.db for the schema, WAL mode and the shared connection.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from genctl import paths
from genctl.errors import usage
from genctl.history.db import COLUMNS, Connections, busy_timeout_ms
from genctl.http import redact
from genctl.keys import iso
from genctl.providers.base import Job

if TYPE_CHECKING:
    from genctl.providers.base import Job
    from genctl.values import Key

FILE_NAME = "history.db"
UNCONFIRMED = "unconfirmed"  # the submit was sent; its answer (with the job id) has not arrived
PLACEHOLDER_PREFIX = "unconfirmed-"  # the request_id of an unconfirmed row, until the job is found
PENDING = (UNCONFIRMED, "submitted", "queued", "running")
Status = Literal["unconfirmed", "submitted", "queued", "running", "succeeded", "failed"]
StatusFilter = Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True)
class BatchRef:
    """Which item of which batch file a job ran for (`generate --batch … --resume` skips it next time)."""

    file: str  # absolute path of the batch file
    item: str  # the item's identity in that file (genctl.batch.item_identity)


@dataclass(frozen=True)
class JobRecord:
    """One row of history."""

    provider: str
    model: str
    request_id: str
    status: str
    submitted_at: float
    updated_at: float
    key_label: str | None = None
    key_fingerprint: str | None = None
    prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    status_url: str | None = None
    result_url: str | None = None
    cancel_url: str | None = None
    output_dir: str | None = None  # absolute; None: the run saved nothing (--no-download, --no-wait)
    outputs: list[dict[str, Any]] = field(default_factory=list)  # {url, content_type, path, bytes[, inline]}
    result_bytes: int | None = None
    cost: float | None = None  # its amount (None: unknown or not recorded)
    cost_detail: dict[str, Any] | None = None  # the Cost JSON (genctl.cost): basis, unit, units, reason
    input_fingerprint: str | None = None  # sha256 of the input's canonical JSON (`input_fingerprint()`)
    error_code: str | None = None
    error_message: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    saved_at: float | None = None
    batch: BatchRef | None = None

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def unconfirmed(self) -> bool:
        """Sent, but the answer naming the job never arrived: `request_id` is only a placeholder."""
        return self.status == UNCONFIRMED

    def missing_outputs(self) -> list[int]:
        """1-based indexes of file outputs with no local file (never saved, or deleted since)."""
        return [
            index
            for index, output in enumerate(self.outputs, start=1)
            if (output.get("url") or output.get("inline"))
            and not (output.get("path") and Path(output["path"]).is_file())
        ]

    def job(self) -> Job:
        """The provider Job to poll, fetch or cancel this row's request with."""

        return Job(
            provider=self.provider,
            model=self.model,
            request_id=self.request_id,
            status_url=self.status_url or "",
            result_url=self.result_url,
            cancel_url=self.cancel_url,
            key_label=self.key_label,
        )

    def to_json(self) -> dict[str, Any]:

        return {
            "request_id": self.request_id,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "prompt": self.prompt,
            "params": self.params,
            "key_label": self.key_label,
            "key_fingerprint": self.key_fingerprint,
            "submitted_at": iso(self.submitted_at),
            "started_at": iso(self.started_at),
            "completed_at": iso(self.completed_at),
            "saved_at": iso(self.saved_at),
            "updated_at": iso(self.updated_at),
            "seconds": None if self.completed_at is None else round(self.completed_at - self.submitted_at, 3),
            "output_dir": self.output_dir,
            "outputs": self.outputs,
            "cost": self.cost_detail,
            "input_fingerprint": self.input_fingerprint,
            "error": None
            if self.error_code is None
            else {"code": self.error_code, "message": self.error_message},
            "batch": None if self.batch is None else {"file": self.batch.file, "item": self.batch.item},
        }


class History:
    """The history database of this machine (or of `path`). Cheap to create: nothing is opened until used."""

    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path if path is not None else paths.state_dir() / FILE_NAME
        self.clock = clock

    @contextlib.contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """The connection, in one transaction (IMMEDIATE for writes: the write lock is taken up front, so a
        busy database makes us wait `BUSY_TIMEOUT` rather than fail halfway). Reads never create the file."""
        if write:
            paths.ensure_private_dir(self.path.parent)
        elif not self.path.exists():
            raise FileNotFoundError(self.path)
        conn, lock = Connections.checkout(self.path)
        try:
            conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            lock.release()

    # -- writes -------------------------------------------------------------------------------------------

    def add(
        self,
        *,
        job: Job,
        key: Key,
        prompt: str | None,
        params: Mapping[str, Any],
        output_dir: Path | None,
        batch: BatchRef | None = None,
    ) -> None:
        """Record a job the provider has just accepted (status `submitted`)."""
        now = self.clock()
        row = {
            "provider": job.provider,
            "model": job.model,
            "request_id": job.request_id,
            "status": "submitted",
            "key_label": key.label,
            "key_fingerprint": key.fingerprint,
            "prompt": prompt,
            "params": _dumps(_scrubbed(params, key)),
            "status_url": job.status_url,
            "result_url": job.result_url,
            "cancel_url": job.cancel_url,
            "output_dir": None if output_dir is None else str(output_dir.resolve()),
            "submitted_at": now,
            "updated_at": now,
            "batch_file": None if batch is None else batch.file,
            "batch_item": None if batch is None else batch.item,
        }
        self._insert(row, verb="INSERT OR REPLACE")

    def add_unconfirmed(
        self,
        *,
        provider: str,
        model: str,
        key: Key,
        prompt: str | None,
        params: Mapping[str, Any],
        fingerprint: str,
        output_dir: Path | None,
        batch: BatchRef | None = None,
    ) -> str:
        """Record a paid submit about to go out (status `unconfirmed`); its placeholder request id.

        `params` is what history shows (as `add` keeps it); `fingerprint` is that of the input exactly as
        submitted (genctl.history.unconfirmed.input_fingerprint), to tell its job from others later.
        """
        now = self.clock()
        placeholder = PLACEHOLDER_PREFIX + uuid.uuid4().hex[:12]
        row = {
            "provider": provider,
            "model": model,
            "request_id": placeholder,
            "status": UNCONFIRMED,
            "key_label": key.label,
            "key_fingerprint": key.fingerprint,
            "prompt": prompt,
            "params": _dumps(_scrubbed(params, key)),
            "input_fingerprint": fingerprint,
            "output_dir": None if output_dir is None else str(output_dir.resolve()),
            "submitted_at": now,
            "updated_at": now,
            "batch_file": None if batch is None else batch.file,
            "batch_item": None if batch is None else batch.item,
        }
        self._insert(row, verb="INSERT")
        return placeholder

    def _insert(self, row: dict[str, Any], *, verb: str) -> None:
        names = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        with self._connect(write=True) as conn:
            conn.execute(f"{verb} INTO jobs ({names}) VALUES ({marks})", row)

    def confirm(self, placeholder: str, job: Job) -> None:
        """The unconfirmed row `placeholder` becomes the row of `job` (status `submitted`, its id and URLs);
        `submitted_at` stays the time the submit was sent."""
        values = {
            "request_id": job.request_id,
            "status": "submitted",
            "status_url": job.status_url,
            "result_url": job.result_url,
            "cancel_url": job.cancel_url,
            "updated_at": self.clock(),
        }
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        with self._connect(write=True) as conn:
            # A row of that job made meanwhile (`genctl result ID` adopting it) gives way to this one.
            taken = {"p": job.provider, "rid": job.request_id}
            conn.execute("DELETE FROM jobs WHERE provider = :p AND request_id = :rid", taken)
            conn.execute(
                f"UPDATE jobs SET {assignments} WHERE provider = :_provider AND request_id = :_placeholder",
                {**values, "_provider": job.provider, "_placeholder": placeholder},
            )

    def discard(self, provider: str, placeholder: str) -> None:
        """Delete an unconfirmed row whose submit was answered without a job (nothing was created)."""
        with self._connect(write=True) as conn:
            conn.execute(
                "DELETE FROM jobs WHERE provider = :p AND request_id = :rid AND status = :s",
                {"p": provider, "rid": placeholder, "s": UNCONFIRMED},
            )

    def update(self, provider: str, request_id: str, **changes: Any) -> None:
        """Set columns of one row; `outputs` (a list) and `params` (a dict) are stored as JSON."""
        values = self._values(changes)
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        with self._connect(write=True) as conn:
            conn.execute(
                f"UPDATE jobs SET {assignments} WHERE provider = :_provider AND request_id = :_request_id",
                {**values, "_provider": provider, "_request_id": request_id},
            )

    def _values(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        values = {
            name: _dumps(value) if name in ("outputs", "params", "cost_detail") else value
            for name, value in changes.items()
        }
        values["updated_at"] = self.clock()
        unknown = set(values) - COLUMNS
        if unknown:
            raise ValueError(f"unknown history columns: {sorted(unknown)}")
        return values

    def set_status(self, provider: str, request_id: str, status: Status, **changes: Any) -> None:
        """Move a job on (and set `changes`); `started_at` and `completed_at` are stamped the first time."""
        values = self._values(changes)
        extra = "".join(f", {name} = :{name}" for name in values)
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE jobs SET status = :_status"
                " , started_at = CASE WHEN :_status IN ('running', 'succeeded', 'failed')"
                "  THEN COALESCE(started_at, :updated_at) ELSE started_at END"
                " , completed_at = CASE WHEN :_status IN ('succeeded', 'failed')"
                f"  THEN COALESCE(completed_at, :updated_at) ELSE completed_at END{extra}"
                " WHERE provider = :_provider AND request_id = :_request_id",
                {**values, "_status": status, "_provider": provider, "_request_id": request_id},
            )

    def clear(self) -> int:
        """Delete every row; how many there were."""
        if not self.path.exists():
            return 0
        with self._connect(write=True) as conn:
            return conn.execute("DELETE FROM jobs").rowcount

    # -- reads --------------------------------------------------------------------------------------------

    def recent(self, *, limit: int | None = 50, status: StatusFilter | None = None) -> list[JobRecord]:
        """Newest first; `status` "pending" means submitted, queued or running."""
        where, args = "", {}
        if status == "pending":
            where = f"WHERE status IN ({', '.join(repr(s) for s in PENDING)})"
        elif status is not None:
            where, args = "WHERE status = :status", {"status": status}
        query = f"SELECT * FROM jobs {where} ORDER BY submitted_at DESC, id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        return self._select(query, args)

    def find(self, request_id: str) -> JobRecord | None:
        """The row of `request_id`, or of the one request id that starts with it (file names carry the
        first 8 characters); usage.invalid when the prefix names several."""
        exact = self._select("SELECT * FROM jobs WHERE request_id = :rid", {"rid": request_id})
        if exact or len(request_id) < 4:
            return exact[0] if exact else None
        pattern = request_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = self._select(
            "SELECT * FROM jobs WHERE request_id LIKE :p ESCAPE '\\' ORDER BY submitted_at DESC LIMIT 6",
            {"p": pattern},
        )
        if len(found) > 1:
            listed = ", ".join(r.request_id for r in found[:5])
            raise usage(
                f"{request_id!r} matches several jobs in history: {listed}.",
                fix="Give more of the request id (genctl history lists them).",
            )
        return found[0] if found else None

    def batch_items(self, batch_file: str) -> dict[str, JobRecord]:
        """The newest row of each item of `batch_file`, by item identity."""
        rows = self._select(
            "SELECT * FROM jobs WHERE batch_file = :f ORDER BY submitted_at ASC, id ASC", {"f": batch_file}
        )
        return {row.batch.item: row for row in rows if row.batch is not None}

    def _select(self, query: str, args: Mapping[str, Any]) -> list[JobRecord]:
        try:
            with self._connect(write=False) as conn:
                return [_record(row) for row in conn.execute(query, dict(args)).fetchall()]
        except FileNotFoundError:
            return []


def _record(row: sqlite3.Row) -> JobRecord:
    batch = BatchRef(row["batch_file"], row["batch_item"]) if row["batch_file"] else None
    return JobRecord(
        provider=row["provider"],
        model=row["model"],
        request_id=row["request_id"],
        status=row["status"],
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
        key_label=row["key_label"],
        key_fingerprint=row["key_fingerprint"],
        prompt=row["prompt"],
        params=_loads(row["params"], {}),
        status_url=row["status_url"],
        result_url=row["result_url"],
        cancel_url=row["cancel_url"],
        output_dir=row["output_dir"],
        outputs=_loads(row["outputs"], []),
        result_bytes=row["result_bytes"],
        cost=row["cost"],
        cost_detail=_loads(row["cost_detail"], {}) or None,
        input_fingerprint=row["input_fingerprint"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        saved_at=row["saved_at"],
        batch=batch,
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _loads(text: str | None, default: Any) -> Any:
    try:
        value = json.loads(text or "")
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def _scrubbed(params: Mapping[str, Any], key: Key) -> dict[str, Any]:
    """The params with the submitting key masked wherever it appears (a key pasted into a -p by mistake)."""

    text = _dumps(dict(params))
    clean = redact(text, [key])
    return dict(params) if clean == text else _loads(clean, {})
