"""Time to result: how late genctl reports a job that takes JOB seconds, on fal and on Replicate.

Whole process: `genctl generate "a fox [sandbox:latency=JOB]" -m MODEL --json -o DIR` against the sandbox
(the job is not done before submit + JOB s, wall clock), minus start-up (`genctl --version`, run just
before it, so the pair sees the same machine) and minus JOB itself: the median over RUNS pairs, after one
warm-up run. What is left is genctl's added latency: imports past start-up, the pre-flight, submit,
noticing completion (fal's status stream; Replicate's held create), the result and the download. Printed
with its ratio to the target (issue #13: 0.25 s on fal, 0.5 s on Replicate).
Not a test: nothing is asserted; run it by hand: `uv run python benchmarks/time_to_result.py`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import bytecode  # benchmarks/bytecode.py, beside this script

from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk

JOB = 3.4  # seconds: a typical FLUX job
RUNS = 5
CASES = (("fal", "fal-ai/flux/dev", 0.25), ("replicate", "black-forest-labs/flux-dev", 0.5))
_SCRUB = ("FAL_", "REPLICATE_", "GENCTL_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        print(f"  exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return took


def main() -> None:
    bytecode.ensure()
    genctl = [sys.executable, "-m", "genctl"]
    with tempfile.TemporaryDirectory() as tmp, Sandbox() as box:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUB)}
        env.update(
            box.env(), GENCTL_HOME=tmp, FAL_KEY=sk.FAL_KEY_OK, REPLICATE_API_TOKEN=sk.REPLICATE_TOKEN_OK
        )
        print(f"job {JOB} s; median of {RUNS} pairs (start-up measured just before each run)")
        for provider, model, target in CASES:
            argv = [*genctl, "generate", f"a fox [sandbox:latency={JOB}]", "-m", model, "--json", "-o", tmp]
            once(argv, env)  # warm-up: the catalogue cache is filled, as for a user's second run
            pairs = [(once([*genctl, "--version"], env), once(argv, env)) for _ in range(RUNS)]
            startup = statistics.median(boot for boot, _ in pairs)
            whole = statistics.median(run for _, run in pairs)
            added = statistics.median(run - boot - JOB for boot, run in pairs)
            print(
                f"{provider:<9} whole {whole:5.2f} s; start-up {startup:5.2f} s; "
                f"added latency {added:5.2f} s (target {target} s: ratio {added / target:.2f})"
            )


if __name__ == "__main__":
    main()
