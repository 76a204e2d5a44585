"""Startup: `genctl --help` and `genctl --version` against `python -c pass`, and what each imports.

Prints the median wall time of N runs and its ratio to a bare interpreter, and the same for CPU time (user +
system, which a machine busy with other work inflates far less than wall time). Not a test: run it by hand.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

import bytecode  # benchmarks/bytecode.py, beside this script

RUNS = 15
HEAVY = ("httpx", "fal_client", "replicate", "pydantic", "rich.progress")


def wall(argv: list[str]) -> tuple[float, float]:
    """Median wall and median CPU seconds of RUNS runs of `argv`."""
    times, cpu = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times), statistics.median(cpu)


def imported(args: list[str]) -> list[str]:
    code = (
        "import sys\nfrom genctl.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    # A marked line: with no heavy import the list is empty, and the command's own output comes last.
    found = [line for line in proc.stdout.splitlines() if line.startswith("heavy:")][-1]
    return [m for m in found.removeprefix("heavy:").split(",") if m]


def main() -> None:
    bytecode.ensure()
    base, base_cpu = wall([sys.executable, "-c", "pass"])
    print(f"{'':<23} {'wall':>9} {'ratio':>7} {'cpu':>9} {'ratio':>7}")
    print(f"python -c pass          {base * 1000:6.1f} ms   1.00x {base_cpu * 1000:6.1f} ms   1.00x")
    for args in (["--version"], ["--help"], ["generate", "--help"]):
        t, cpu = wall([sys.executable, "-m", "genctl", *args])
        heavy = imported(args)
        print(
            f"genctl {' '.join(args):<16} {t * 1000:6.1f} ms {t / base:6.2f}x {cpu * 1000:6.1f} ms "
            f"{cpu / base_cpu:6.2f}x   heavy imports: {heavy or 'none'}"
        )


if __name__ == "__main__":
    main()
