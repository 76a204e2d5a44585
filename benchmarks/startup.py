"""Startup: `genctl --help` and `genctl --version` against `python -c pass`, and what each imports.

Prints the median wall time of N runs and the ratio to a bare interpreter. Not a test: run it by hand.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15
HEAVY = ("httpx", "fal_client", "replicate", "pydantic", "rich.progress")


def wall(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    base = wall([sys.executable, "-c", "pass"])
    print(f"python -c pass          {base * 1000:7.1f} ms   1.00x")
    for args in (["--version"], ["--help"], ["generate", "--help"]):
        t = wall([sys.executable, "-m", "genctl", *args])
        heavy = imported(args)
        print(
            f"genctl {' '.join(args):<16} {t * 1000:7.1f} ms  {t / base:5.2f}x"
            f"   heavy imports: {heavy or 'none'}"
        )


if __name__ == "__main__":
    main()
