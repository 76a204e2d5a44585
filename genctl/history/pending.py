"""`genctl result --pending`: every unconfirmed submit in history, looked for and, once found, fetched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genctl.errors import GenctlError
from genctl.history.recovery import Recovery, recover
from genctl.keys import iso

if TYPE_CHECKING:
    from genctl.history import History, JobRecord
    from genctl.settings import Settings


@dataclass(frozen=True)
class PendingRecovery:
    """What `genctl result --pending` did with each unconfirmed submit: found (and fetched), or not."""

    found: list[Recovery]
    missing: list[tuple[JobRecord, GenctlError]]  # the row, and why no job was adopted for it

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "found": [recovery.to_json() for recovery in self.found],
            "missing": [
                {
                    "request_id": row.request_id,
                    "provider": row.provider,
                    "model": row.model,
                    "submitted_at": iso(row.submitted_at),
                    "error": err.to_json(),
                }
                for row, err in self.missing
            ],
        }


def recover_unconfirmed(settings: Settings, *, history: History, **options: Any) -> PendingRecovery:
    """Each unconfirmed submit in history, oldest first, through `recover` (`options` are its own)."""
    rows = [row for row in reversed(history.recent(limit=None, status="pending")) if row.unconfirmed]
    found: list[Recovery] = []
    missing: list[tuple[JobRecord, GenctlError]] = []
    for row in rows:
        try:
            found.append(recover(settings, row.request_id, history=history, **options))
        except GenctlError as err:
            still = history.find(row.request_id)
            if still is not None and still.unconfirmed:
                missing.append((row, err))
                continue
            raise  # adopted, then its fetch failed: that error is the job's own (`genctl result ID`)
    return PendingRecovery(found, missing)
