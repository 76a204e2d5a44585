"""Batch: 200 items on the sandbox with 500 ms model latency and 4 keys — wall time against the ideal, and
how evenly the keys share the work.

The sandbox runs in its own process (`genctl sandbox serve --port 0`, as in benchmarks/download.py), with
`model_latency=0.5` set through its control API: a job is done no sooner than 0.5 s after its submit. Each
run is the real command, `python -m genctl generate --batch FILE --concurrency C -o DIR --quiet`, in a
fresh GENCTL_HOME (history and key state included), with four fal keys in FAL_KEY.

  wall        seconds for the whole command, process start-up included (shown on its own line)
  ideal       items × latency / concurrency: what a batch would take if only the model's time counted
  x ideal     wall / ideal (target, issue #13: 1.15 at concurrency 8 and 32). Above 1.0 come start-up,
              pre-flight, submit, result and download round trips, and noticing the end: fal's status
              stream says it at once; the "poll floor" line is what polling alone would cost (the runner
              polls at once, then after 0.25 s and 0.375 s more: a 0.5 s job seen done at 0.625 s)
  ratio       x ideal / 1.15: at or under 1.00 meets the target
  x floor     wall / floor, where floor = ceil(items / concurrency) × latency: the least any client can take,
              as a worker runs whole items (200 items at 32 are 7 rounds for 8 workers: 3.5 s, 1.12 × the
              ideal of 3.125 s, before start-up and any round trip)
  - start-up  x ideal with the start-up (python -m genctl --version) taken out of the wall time: the part
              of the overhead a longer batch does not dilute; at concurrency 32 the ideal of 80 items is
              1.25 s, so start-up alone would be a third of it
  per key     submits (paid POSTs) per key fingerprint, from the sandbox's request log; even is 50 each
  spread      most / fewest submits of one key (1.00 = perfectly even)
  cpu s       user + system CPU seconds of the genctl process (the sandbox not included): past a few
              workers, one process's Python threads share one interpreter lock
  ms/item     cpu s per item, in milliseconds
  sandbox     CPU ms per item of the sandbox child (its /_sandbox/process answer before and after): the
              fake is one Python process too, and a saturated fake slows the batch as a slow client would
  bare        x ideal of the least a Python client can do for the same items (benchmarks/bare_client.py:
              the four requests and a file write per item on one httpx client, no start-up): what this
              machine and the fake allow any client. Where it is above the target, so is every client
  x bare      (wall - start-up) / the bare client's wall: genctl's own cost over that floor

Not a test: nothing is asserted. Usage: `uv run python benchmarks/batch.py [ITEMS] [CONCURRENCY ...]`.
"""

from __future__ import annotations

import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bare_client  # benchmarks/bare_client.py, beside this script
import bytecode
from download import clean_environ, sandbox_process  # the same sandbox child, one definition

ITEMS = 200
TARGET = 1.15
LATENCY = 0.5
CONCURRENCIES = (4, 8, 16, 32)
KEYS = [f"00000000-0000-4000-8000-00000000b00{n}:5a4d00000000000000000000000000b{n}" for n in range(1, 5)]
MODEL = "fal-ai/flux/schnell"
POLLS = (0.0, 0.25, 0.375, 0.5625, 0.84375)  # genctl.runner: first poll at once, then x1.5 from 0.25 s


def poll_floor(latency: float) -> float:
    """When the runner first sees a job done that takes `latency` seconds (its polls are cumulative)."""
    elapsed = 0.0
    for gap in POLLS:
        elapsed += gap
        if elapsed >= latency:
            return elapsed
    return latency


def control(exports: dict[str, str], path: str, method: str = "GET", body: object = None) -> object:
    base = exports["GENCTL_FAL_QUEUE_URL"].rsplit("/fal/queue", 1)[0]
    response = httpx.request(method, f"{base}/_sandbox/{path}", json=body, timeout=30.0)
    response.raise_for_status()
    return response.json() if response.content else None


def sandbox_cpu(exports: dict[str, str]) -> float:
    answer = control(exports, "process")
    assert isinstance(answer, dict)
    return float(answer["cpu_seconds"])


def run_batch(
    exports: dict[str, str], items: int, concurrency: int
) -> tuple[float, float, float, dict[str, int], str]:
    """One batch through the CLI; (wall seconds, CPU seconds of genctl and of the sandbox, submits per key
    fingerprint, files saved)."""
    control(exports, "requests", "DELETE")
    fake_before = sandbox_cpu(exports)
    with tempfile.TemporaryDirectory(prefix="genctl-bench-batch-") as tmp:
        root = Path(tmp)
        batch = root / "prompts.txt"
        batch.write_text("".join(f"a fox, take {n}\n" for n in range(items)))
        env = {
            **clean_environ(),
            **{k: v for k, v in exports.items() if k.startswith("GENCTL_")},
            "FAL_KEY": ",".join(KEYS),
            "GENCTL_HOME": str(root / "home"),
        }
        argv = [sys.executable, "-m", "genctl", "generate", "--batch", str(batch), "-m", MODEL]
        argv += ["--concurrency", str(concurrency), "-o", str(root / "out"), "--quiet"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sandbox child is not reaped yet
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if proc.returncode != 0:
            raise RuntimeError(f"batch failed ({proc.returncode}): {proc.stderr[-2000:]}")
        saved = len(list((root / "out").iterdir()))
    fake_cpu = sandbox_cpu(exports) - fake_before
    log = control(exports, "requests")
    assert isinstance(log, dict)
    per_key: dict[str, int] = {}
    for record in log["requests"]:
        if record["method"] == "POST" and record["host"] == "fal.queue":
            fp = record["key_fingerprint"] or "none"
            per_key[fp] = per_key.get(fp, 0) + 1
    return wall, cpu, fake_cpu, per_key, f"{saved} files saved"


def startup(exports: dict[str, str]) -> float:
    env = {**clean_environ(), **exports}
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "genctl", "--version"], env=env, capture_output=True, check=True
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    bytecode.ensure()
    items = int(sys.argv[1]) if len(sys.argv) > 1 else ITEMS
    concurrencies = tuple(int(a) for a in sys.argv[2:]) or CONCURRENCIES
    with sandbox_process(clean_environ()) as exports:
        control(exports, "configure", "POST", {"model_latency": LATENCY})
        print(
            f"batch: {items} items, model latency {LATENCY} s, {len(KEYS)} fal keys (sandbox: child process)"
        )
        floor = poll_floor(LATENCY)
        print(f"poll floor: a {LATENCY} s job is seen done at {floor:.3f} s (x{floor / LATENCY:.2f})")
        boot = startup(exports)
        print(f"start-up:   python -m genctl --version takes {boot:.2f} s (inside every wall time)")
        print()
        head = f"{'concurrency':>11}  {'wall s':>7}  {'ideal s':>7}  {'x ideal':>7}  {'per key':<19}  spread"
        print(head + "  ratio  x floor  - start-up   cpu s  ms/item  sandbox   bare  x bare  saved")
        for concurrency in concurrencies:
            wall, cpu, fake_cpu, per_key, saved = run_batch(exports, items, concurrency)
            control(exports, "requests", "DELETE")
            bare, _ = bare_client.run(exports["GENCTL_FAL_QUEUE_URL"], MODEL, KEYS, items, concurrency)
            ideal = items * LATENCY / concurrency
            floor_s = math.ceil(items / concurrency) * LATENCY
            counts = sorted(per_key.values(), reverse=True)
            spread = counts[0] / counts[-1] if counts and counts[-1] else float("inf")
            shown = "/".join(str(c) for c in counts)
            print(
                f"{concurrency:>11}  {wall:>7.2f}  {ideal:>7.2f}  {wall / ideal:>7.2f}  {shown:<19}  "
                f"{spread:>6.2f}  {wall / ideal / TARGET:>5.2f}  {wall / floor_s:>7.2f}  "
                f"{(wall - boot) / ideal:>10.2f}  "
                f"{cpu:>6.2f}  "
                f"{cpu / items * 1000:>7.1f}  {fake_cpu / items * 1000:>7.1f}  {bare / ideal:>5.2f}  "
                f"{(wall - boot) / bare:>6.2f}  {saved}"
            )


if __name__ == "__main__":
    main()
