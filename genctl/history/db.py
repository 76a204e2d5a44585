"""The SQLite plumbing under genctl.history: the schema, and one shared WAL connection per database file.

Several genctl processes write at once (CI jobs, a batch's threads): the database is in WAL mode (readers
never block the writer), every change is one short `BEGIN IMMEDIATE` transaction, and a writer waits up to
`BUSY_TIMEOUT` for another to finish instead of failing with "database is locked". `synchronous=NORMAL`:
a killed process loses nothing it committed (a power cut may lose the last transactions).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import ClassVar

from genctl import deadline

# 2: cost_detail (the Cost JSON; `cost` is its amount). 3: input_fingerprint (an unconfirmed submit's input,
# so `genctl result --pending` can tell its job from others in the provider's listing).
SCHEMA_VERSION = 3
BUSY_TIMEOUT = 15.0  # seconds a writer waits for another process's transaction
BUSY_FLOOR = 0.25  # seconds, even once --timeout has passed: recording the cancel must get its chance


def busy_timeout_ms() -> int:
    """How long the next transaction waits for another writer: BUSY_TIMEOUT, never past the deadline."""
    left = deadline.remaining()
    seconds = BUSY_TIMEOUT if left is None else max(BUSY_FLOOR, min(BUSY_TIMEOUT, left))
    return round(seconds * 1000)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    request_id TEXT NOT NULL,
    status TEXT NOT NULL,
    key_label TEXT,
    key_fingerprint TEXT,
    prompt TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    status_url TEXT,
    result_url TEXT,
    cancel_url TEXT,
    output_dir TEXT,
    outputs TEXT NOT NULL DEFAULT '[]',
    result_bytes INTEGER,
    cost REAL,
    cost_detail TEXT,
    input_fingerprint TEXT,
    error_code TEXT,
    error_message TEXT,
    submitted_at REAL NOT NULL,
    started_at REAL,
    completed_at REAL,
    saved_at REAL,
    updated_at REAL NOT NULL,
    batch_file TEXT,
    batch_item TEXT,
    UNIQUE (provider, request_id)
);
CREATE INDEX IF NOT EXISTS jobs_request_id ON jobs (request_id);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs (batch_file, batch_item);
"""

COLUMNS = frozenset(
    re.findall(r"^    ([a-z_]+) [A-Z]", _SCHEMA.split("UNIQUE", 1)[0], flags=re.MULTILINE)
) - {"id"}


class Connections:
    """One open connection per database for the whole process, used under a lock by every thread.

    Opening and closing per write costs ~1 ms, most of it the WAL checkpoint SQLite runs when the last
    connection closes; a batch writes a few times per item. Closed at exit; a connection whose file was
    deleted meanwhile is dropped and opened again, so writes never go to an unlinked file.
    """

    lock = threading.Lock()
    connections: ClassVar[dict[str, tuple[sqlite3.Connection, threading.Lock]]] = {}  # oldest use first
    most = 4  # a process uses one database; tests use many: the least recently used are closed

    @classmethod
    def get(cls, path: Path) -> tuple[sqlite3.Connection, threading.Lock]:
        key = os.path.abspath(path)
        with cls.lock:
            found = cls.connections.pop(key, None)
            if found is not None and path.exists():
                cls.connections[key] = found
                return found
            if found is not None:
                found[0].close()
            created = not path.exists()
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            try:
                if created:
                    with contextlib.suppress(OSError):
                        os.chmod(path, 0o600)  # prompts are the user's business; -wal/-shm copy this mode
                _prepare(conn, path)
            except BaseException:
                conn.close()
                raise
            conn.row_factory = sqlite3.Row
            for old in list(cls.connections)[: max(0, len(cls.connections) + 1 - cls.most)]:
                old_conn, old_lock = cls.connections[old]
                if old_lock.acquire(blocking=False):  # in use by another thread: keep it for now
                    del cls.connections[old]
                    old_conn.close()
                    old_lock.release()
            cls.connections[key] = (conn, threading.Lock())
            return cls.connections[key]

    @classmethod
    def checkout(cls, path: Path) -> tuple[sqlite3.Connection, threading.Lock]:
        """The connection of `path` with its lock held (release it when done)."""
        while True:
            conn, lock = cls.get(path)
            lock.acquire()
            with cls.lock:
                if cls.connections.get(os.path.abspath(path), (None,))[0] is conn:
                    return conn, lock
            lock.release()  # closed by an eviction between the two steps: take a fresh one

    @classmethod
    def close_all(cls) -> None:
        with cls.lock:
            for conn, lock in cls.connections.values():
                # A daemon thread may be mid-write at exit: then leave it; the WAL keeps what was committed.
                if lock.acquire(timeout=1.0):
                    conn.close()
                    lock.release()
            cls.connections.clear()


atexit.register(Connections.close_all)


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """WAL (a property of the file: set once, it stays) and the schema, created or checked."""
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"{path} was written by a newer genctl (schema {version}; this one knows {SCHEMA_VERSION})"
            )
        # Not executescript: it would COMMIT first and run outside this transaction.
        for statement in filter(str.strip, _SCHEMA.split(";")):
            conn.execute(statement)
        _migrate(conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# Columns added after schema 1, with their type: an older file gets them (ALTER TABLE keeps every row).
_ADDED = {"cost_detail": "TEXT", "input_fingerprint": "TEXT"}


def _migrate(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    for name, kind in _ADDED.items():
        if name not in have:
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
