"""The least a Python client can do for one batch item, for benchmarks/batch.py to compare genctl with.

Each item is what genctl's batch does on the wire, and nothing else: the submit POST, fal's status stream
read to COMPLETED, the result GET, and each output's download written to a file — on one shared
`httpx.Client`, from `concurrency` threads, in this process (no start-up, no pre-flight, no history, no
key rotation state, no progress output). Its time against the ideal is what this machine and the sandbox
allow any client at that concurrency: on a 2-core box the fake (one Python process) and the client share
the cores, and at 32 workers the jobs end together, so their follow-up requests queue in the fake.

Not a test: nothing is asserted. benchmarks/batch.py runs it after each of its rows, on the same sandbox
child (`uv run python benchmarks/batch.py 192 32`); this module has no entry point of its own.
"""

from __future__ import annotations

import json
import resource
import tempfile
import threading
import time
from pathlib import Path

import httpx


def run(queue_url: str, model: str, keys: list[str], items: int, concurrency: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for `items` items at `concurrency`; raises on failure."""
    numbers = iter(range(items))
    take = threading.Lock()
    failures: list[BaseException] = []
    limits = httpx.Limits(max_connections=2 * concurrency, max_keepalive_connections=2 * concurrency)
    with (
        tempfile.TemporaryDirectory(prefix="genctl-bench-bare-") as tmp,
        httpx.Client(timeout=30.0, limits=limits) as client,
    ):
        out = Path(tmp)

        def one(n: int) -> None:
            auth = {"Authorization": f"Key {keys[n % len(keys)]}"}
            submitted = client.post(f"{queue_url}/{model}", json={"prompt": f"a fox, take {n}"}, headers=auth)
            submitted.raise_for_status()
            job = submitted.json()
            with client.stream("GET", f"{job['status_url']}/stream", headers=auth) as events:
                for line in events.iter_lines():
                    if line.startswith("data:") and json.loads(line[5:]).get("status") == "COMPLETED":
                        break
            result = client.get(job["response_url"], headers=auth)
            result.raise_for_status()
            for index, image in enumerate(result.json()["images"]):
                with client.stream("GET", image["url"]) as body:
                    body.raise_for_status()
                    (out / f"{n}-{index}.png").write_bytes(b"".join(body.iter_bytes()))

        def worker() -> None:
            while not failures:
                with take:
                    n = next(numbers, None)
                if n is None:
                    return
                try:
                    one(n)
                except BaseException as exc:  # reported by the caller below
                    failures.append(exc)

        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        if failures:
            raise RuntimeError(f"the bare client failed: {failures[0]!r}")
        saved = len(list(out.iterdir()))
        if saved < items:
            raise RuntimeError(f"the bare client saved {saved} files for {items} items")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
