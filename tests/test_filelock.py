"""genctl.filelock.held: one holder at a time, among threads and among processes, never past its wait or
--timeout (the key state and `genctl keys add` edits rely on it)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from genctl import deadline, filelock

HOLD_FOR = """
import sys, time
from pathlib import Path
from genctl import filelock
with filelock.held(Path(sys.argv[1]), wait=5.0):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _increment(counter: Path, lock: Path, times: int) -> None:
    for _ in range(times):
        with filelock.held(lock, wait=10.0):
            value = int(counter.read_text())
            time.sleep(0)  # hand the interpreter to another thread between the read and the write
            counter.write_text(str(value + 1))


def test_threads_of_one_process_take_turns_and_lose_no_update(tmp_path: Path) -> None:
    counter, lock = tmp_path / "n", tmp_path / "n.lock"
    counter.write_text("0")
    threads = [threading.Thread(target=_increment, args=(counter, lock, 25)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert counter.read_text() == "400"
    assert lock.stat().st_mode & 0o777 == 0o600


def test_a_thread_gives_up_after_its_wait_and_by_the_deadline_first(tmp_path: Path) -> None:
    lock, holding, done = tmp_path / "l.lock", threading.Event(), threading.Event()

    def hold() -> None:
        with filelock.held(lock, wait=1.0):
            holding.set()
            done.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(filelock.Busy) as waited, filelock.held(lock, wait=0.05):
            pass
        assert (waited.value.by_deadline, str(waited.value)) == (False, "held for 0.05 s")
        with (
            deadline.limit(0.05, "the test's 0.05 s", command=True),
            pytest.raises(filelock.Busy) as timed_out,
            filelock.held(lock, wait=30.0),
        ):
            pass
        assert (timed_out.value.by_deadline, str(timed_out.value)) == (True, "the time limit ran out")
    finally:
        done.set()
        holder.join(timeout=10)
    with filelock.held(lock, wait=1.0):  # released by the holder: free again
        pass


def test_another_process_holding_the_lock_makes_a_thread_wait_then_give_up(tmp_path: Path) -> None:
    lock = tmp_path / "p.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOR, str(lock), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        with pytest.raises(filelock.Busy) as waited, filelock.held(lock, wait=0.1):
            pass
        assert waited.value.by_deadline is False
    finally:
        proc.kill()  # its death releases the flock
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    with filelock.held(lock, wait=5.0):
        pass


def test_the_wait_covers_the_turn_and_the_flock_together(tmp_path: Path) -> None:
    # A thread of this process holds the turn for 1 s, another process holds the flock all along: a 1.5 s
    # wait gives up 1.5 s after it began (not 1 s in the turn plus a fresh 1.5 s at the flock), and says so.
    lock = tmp_path / "w.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOR, str(lock), "30"], stdout=subprocess.PIPE, text=True
    )
    turned, release = threading.Event(), threading.Event()

    def hold_turn() -> None:
        with filelock.turn(lock):
            turned.set()
            release.wait(1.0)

    holder = threading.Thread(target=hold_turn)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        holder.start()
        assert turned.wait(10)
        started = time.monotonic()
        with pytest.raises(filelock.Busy) as waited, filelock.held(lock, wait=1.5):
            pass
        waited_for = time.monotonic() - started
        assert (waited.value.by_deadline, str(waited.value)) == (False, "held for 1.5 s")
        assert waited_for < 2.2, f"waited {waited_for:.2f} s: the flock got a wait of its own after the turn"
    finally:
        release.set()
        holder.join(timeout=10)
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
