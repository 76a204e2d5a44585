"""The key pool's persisted state: one JSON file in the state dir, changed only under an exclusive file lock.

```
{"version": 1,
 "providers": {"<name>": {"next": 2,
                       "keys": {"3f9a0c1d2e4b": {"state": "failed", "code": "key.locked", "reason": "…",
                                                 "fix": "…", "since": 1767225600.0,
                                                 "last_used": 1767225600.0, "account": "acme"},
                                "9b8c7d6e5f4a": {"state": "cooling", "code": "rate.limited",
                                                 "since": 1767225600.0, "until": 1767225605.0}}}}}
```

Keys appear only as fingerprints (sha256[:12]); times are Unix seconds from the store's clock, which is
wall time because several processes compare them. Every change is read-modify-write inside
`KeyStore.update()`: an flock on `keys.lock`, a fresh read, then an atomic replace of `keys.json` (so a
reader without the lock never sees half a file). Nothing slow happens while the lock is held.
"""

from __future__ import annotations

import json
import logging
import math
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from genctl import deadline, filelock, paths

log = logging.getLogger("genctl.keys.state")

LOCK_WAIT = 10.0  # seconds, without a deadline: then the state is kept in memory for this run
STATE_FILE = "keys.json"
LOCK_FILE = "keys.lock"
VERSION = 1
LATEST_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: the last time gmtime and ISO dates can show
Marked = Literal["failed", "cooling"]


@dataclass
class KeyRecord:
    """What genctl remembers about one key: its failure or cool-down, when it was last used, its account."""

    state: Marked | None = None
    code: str | None = None  # the diagnosis code that failed or cooled it
    reason: str | None = None  # the provider's words (already scrubbed of secrets)
    fix: str | None = None
    since: float | None = None
    until: float | None = None  # cooling: the provider's retry time (failed: since + the cool-down setting)
    last_used: float | None = None
    account: str | None = None  # learned from the provider (Replicate GET /account, fal billing)

    def clear(self) -> None:
        self.state = self.code = self.reason = self.fix = None
        self.since = self.until = None

    @classmethod
    def from_json(cls, data: Any) -> KeyRecord:
        if not isinstance(data, dict):
            return cls()
        record = cls()
        for f in fields(cls):
            value = data.get(f.name)
            if f.name in ("since", "until", "last_used"):
                ok = is_time(value)
            elif f.name == "state":
                ok = value in ("failed", "cooling")
            else:
                ok = isinstance(value, str)
            if ok:
                setattr(record, f.name, float(value) if isinstance(value, int) else value)
        return record

    def to_json(self) -> dict[str, Any]:
        # Never a non-finite or unshowable time: one Infinity would break every later reader.
        # Field by field, not asdict(): the values are plain, and asdict's deep copy was most of the CPU a
        # key take costs (benchmarks/batch.py).
        values = ((f.name, getattr(self, f.name)) for f in _RECORD_FIELDS)
        return {
            name: value
            for name, value in values
            if value is not None and (not isinstance(value, float) or is_time(value))
        }


_RECORD_FIELDS = fields(KeyRecord)


def is_time(value: object) -> bool:
    """A Unix time the pool can compare and show: a finite number from 0 to LATEST_TIME."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and 0 <= value <= LATEST_TIME


@dataclass
class ProviderState:
    """One provider's rotation position and its keys' records, by fingerprint."""

    next: int = 0
    keys: dict[str, KeyRecord] = field(default_factory=dict)

    def record(self, fingerprint: str) -> KeyRecord:
        return self.keys.setdefault(fingerprint, KeyRecord())

    @classmethod
    def from_json(cls, data: Any) -> ProviderState:
        if not isinstance(data, dict):
            return cls()
        position = data.get("next")
        keys = data.get("keys")
        keys = keys if isinstance(keys, dict) else {}
        usable = isinstance(position, int) and not isinstance(position, bool) and 0 <= position < 2**31
        return cls(
            next=position if usable and isinstance(position, int) else 0,
            keys={str(fp): KeyRecord.from_json(record) for fp, record in keys.items()},
        )

    def to_json(self) -> dict[str, Any]:
        kept = {fp: record.to_json() for fp, record in self.keys.items()}
        return {"next": self.next, "keys": {fp: record for fp, record in kept.items() if record}}


class KeyStore:
    """The state file of every provider's pool; `clock` (Unix seconds) is the one time source of the pool.

    When the state dir cannot be written (a read-only home in a container), the state lives in memory for
    this process instead and `problem` says why: generations still run, only without sharing rotation
    and failures with other runs.
    """

    def __init__(
        self,
        folder: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        memory: bool = False,
    ) -> None:
        self.folder = folder if folder is not None else paths.state_dir()
        self.clock = clock
        self.problem: str | None = None
        # The state, once the disk has refused it; from the start with `memory` (the sandbox's demo keys).
        self._memory: dict[str, Any] | None = {} if memory else None

    @property
    def path(self) -> Path:
        return self.folder / STATE_FILE

    def read(self, provider: str) -> ProviderState:
        """A snapshot without the lock: the file is only ever replaced whole."""
        return ProviderState.from_json(self._document().get(provider))

    @contextmanager
    def update(self, provider: str) -> Iterator[ProviderState]:
        """The provider's state, read fresh under the lock and written back when the block ends."""
        with self._locked():
            document = self._document()
            state = ProviderState.from_json(document.get(provider))
            yield state
            document[provider] = state.to_json()
            self._write(document)

    def _document(self) -> dict[str, Any]:
        if self._memory is not None:
            return self._memory
        try:
            if not stat.S_ISREG(self.path.stat().st_mode):
                raise OSError(f"{self.path} is not a regular file")  # a FIFO would block the read
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as exc:
            # The state is advisory: a damaged file must not stop a generation; it is rewritten whole.
            log.debug("ignoring unreadable key state %s: %r", self.path, exc)
            return {}
        providers = data.get("providers") if isinstance(data, dict) else None
        return dict(providers) if isinstance(providers, dict) else {}

    def _write(self, providers: dict[str, Any]) -> None:
        if self._memory is None:
            document = {"version": VERSION, "providers": providers}
            data = json.dumps(document, indent=1, sort_keys=True, allow_nan=False)
            try:
                paths.write_private(self.path, data.encode(), durable=False)  # advisory: see replace_file
                return
            except OSError as exc:
                self._give_up_disk(exc)
        self._memory = providers

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The key-state lock for the block; a lock that cannot be had (an unwritable folder, a holder stuck
        past LOCK_WAIT) costs the disk, not the run: the state is advisory (`_give_up_disk`)."""
        if self._memory is not None:
            yield
            return
        with ExitStack() as stack:
            try:
                paths.ensure_private_dir(self.folder)
                stack.enter_context(filelock.held(self.folder / LOCK_FILE, wait=LOCK_WAIT))
            except filelock.Busy as exc:
                if exc.by_deadline:
                    raise deadline.passed(
                        "waiting for the key-state lock (another genctl holds it)"
                    ) from None
                self._give_up_disk(TimeoutError(f"another process held {LOCK_FILE} for {LOCK_WAIT:g} s"))
            except OSError as exc:
                self._give_up_disk(exc)
            yield

    def _give_up_disk(self, exc: OSError) -> None:
        self._memory = self._document()  # what could still be read, if anything
        self.problem = (
            f"cannot write the key state in {self.folder} ({exc.strerror or exc}): key rotation and failed "
            "keys are not shared with other runs; set GENCTL_HOME to a writable folder"
        )
        log.debug("key state kept in memory: %r", exc)
