"""Doctor's concurrency: 6 keys and 5 models on a sandbox adding 300 ms to every response.

  serial:     `genctl.doctor.run_doctor` with one worker thread: every probe runs alone, one after the other.
              Its wall time is the sum of the probes; its slowest probe is "the slowest single probe".
  concurrent: the same run with the default pool (genctl.doctor.MAX_WORKERS threads).

The target (issue #5): concurrent wall time under 3x the slowest single probe. Printed: the medians of RUNS
runs of each, the slowest probe and which it is, the ratio, and the speed-up over serial. Settings are loaded
once, outside the timing; the catalogue is fetched fresh on every run (doctor asks with refresh). Not a test:
nothing is asserted; run it by hand: `uv run python benchmarks/doctor.py`.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from genctl import doctor
from genctl.config import load_settings
from genctl.doctor.probes import DoctorOptions
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk

DELAY = 0.3  # seconds the sandbox adds to every response
RUNS = 3
FAL_KEYS = [sk.FAL_KEY_OK, sk.FAL_KEY_OK_2, sk.FAL_KEY_ADMIN]
REPLICATE_KEYS = [sk.REPLICATE_TOKEN_OK, sk.REPLICATE_TOKEN_OK_2, sk.REPLICATE_TOKEN_INVALID]
MODELS = (
    "fal-ai/flux/dev",
    "fal-ai/flux/schnell",
    "fal-ai/flux-pro/v1.1-ultra",
    "black-forest-labs/flux-schnell",
    "black-forest-labs/flux-dev",
)
_SCRUB = ("FAL_", "REPLICATE_", "GENCTL_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def one_run(options: DoctorOptions, env: dict[str, str], workers: int) -> tuple[float, doctor.DoctorReport]:
    settings = load_settings(env=env)
    doctor.MAX_WORKERS = workers
    started = time.monotonic()
    report = doctor.run_doctor(settings, options)
    return time.monotonic() - started, report


def main() -> None:
    default_workers = doctor.MAX_WORKERS
    with tempfile.TemporaryDirectory() as home, Sandbox(response_delay=DELAY) as box:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUB)}
        env.update(box.env(), GENCTL_HOME=home, FAL_KEY=",".join(FAL_KEYS))
        env["REPLICATE_API_TOKEN"] = ",".join(REPLICATE_KEYS)
        os.environ.clear()
        os.environ.update(env)  # the catalogue's cache folder follows GENCTL_HOME
        options = DoctorOptions(models=MODELS, timeout=10.0)
        serial, concurrent = [], []
        slowest: tuple[int, str] = (0, "")
        for _ in range(RUNS):
            seconds, report = one_run(options, env, workers=1)
            serial.append(seconds)
            for check in report.checks:
                elapsed = check.finding.details.get("elapsed_ms")
                if elapsed is not None and elapsed > slowest[0]:
                    slowest = (elapsed, check.id)
            seconds, report = one_run(options, env, workers=default_workers)
            concurrent.append(seconds)
        probes = sum(1 for c in report.checks if "elapsed_ms" in c.finding.details)
        keys = sum(1 for c in report.checks if c.category == "keys" and "elapsed_ms" in c.finding.details)
        models = sum(1 for c in report.checks if c.category == "models" and "elapsed_ms" in c.finding.details)
    worst = slowest[0] / 1000
    one_by_one, at_once = statistics.median(serial), statistics.median(concurrent)
    print(f"sandbox delay {DELAY * 1000:.0f} ms; {probes} probes ({keys} keys, {models} models); {RUNS} runs")
    print(f"serial (1 worker):          median {one_by_one:6.2f} s")
    print(f"concurrent ({default_workers} workers):    median {at_once:6.2f} s")
    print(f"slowest single probe:       {worst:6.2f} s ({slowest[1]})")
    print(f"concurrent / slowest probe: {at_once / worst:.2f}x (target: under 3x)")
    print(f"serial / concurrent:        {one_by_one / at_once:.1f}x speed-up")


if __name__ == "__main__":
    main()
