"""Doctor's wall time against one response's latency: 6 fal keys, 2 Replicate tokens and 5 models on a sandbox
that adds DELAY seconds to every response.

Whole process: `genctl doctor --json -m …` as a subprocess, minus start-up (`genctl --version`, measured the
same way), median of RUNS runs each. The target (issue #13): wall - start-up <= 2.5 x DELAY. Independent
probes run at once; only true dependencies chain. Not a test: nothing is asserted; run it by hand:
`uv run python benchmarks/doctor.py`.
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

DELAY = 0.5  # seconds the sandbox adds to every response
RUNS = 3
TARGET = 2.5
FAL_KEYS = [
    sk.FAL_KEY_OK,
    sk.FAL_KEY_OK_2,
    sk.FAL_KEY_ADMIN,
    sk.FAL_KEY_UNKNOWN,
    sk.FAL_KEY_LOCKED_BALANCE,
    sk.FAL_KEY_LOCKED_TOPUP,
]
REPLICATE_KEYS = [sk.REPLICATE_TOKEN_OK, sk.REPLICATE_TOKEN_OK_2]
MODELS = (
    "fal-ai/flux/dev",
    "fal-ai/flux/schnell",
    "fal-ai/flux-pro/v1.1-ultra",
    "black-forest-labs/flux-schnell",
    "black-forest-labs/flux-dev",
)
_SCRUB = ("FAL_", "REPLICATE_", "GENCTL_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def wall(argv: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    bytecode.ensure()
    genctl = [sys.executable, "-m", "genctl"]
    with tempfile.TemporaryDirectory() as home, Sandbox(response_delay=DELAY) as box:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUB)}
        env.update(box.env(), GENCTL_HOME=home, FAL_KEY=",".join(FAL_KEYS))
        env["REPLICATE_API_TOKEN"] = ",".join(REPLICATE_KEYS)
        args = ["doctor", "--json", "--timeout", "10"]
        for model in MODELS:
            args += ["-m", model]
        startup = wall([*genctl, "--version"], env)
        whole = wall([*genctl, *args], env)
    added = whole - startup
    print(
        f"sandbox delay {DELAY * 1000:.0f} ms; {len(FAL_KEYS)} fal + {len(REPLICATE_KEYS)} Replicate keys, ",
        end="",
    )
    print(f"{len(MODELS)} models; median of {RUNS}")
    print(f"start-up (--version):   {startup:6.2f} s")
    print(f"doctor (whole process): {whole:6.2f} s")
    print(f"wall - start-up:        {added:6.2f} s = {added / DELAY:.2f} x one response (target {TARGET} x)")
    print(f"ratio to target:        {added / DELAY / TARGET:.2f}")


if __name__ == "__main__":
    main()
