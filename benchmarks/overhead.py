"""Overhead: what genctl adds to one zero-latency fal generation, next to bare httpx making the same calls.

A sandbox (in this process, model latency 0) serves fal-ai/flux/schnell at 256x256 with a fixed seed, so each
generation is submit -> status -> result -> media download and every byte on the wire is the same each run.

  (a) genctl in-process: `genctl.generation.generate` (settings loaded once, outside the timing).
  (b) bare httpx in-process: the same four requests (POST submit, GET status?logs=1, GET result, GET the PNG,
      written to a file in 1 MiB chunks), a new httpx.Client per generation as genctl does. A second bare
      variant also fsyncs the file, since genctl's download writes a temp file, fsyncs it and links it.
  (c) genctl as a process: `python -m genctl generate ...` against the same sandbox, next to
      `python -c pass` and `python -m genctl --version`.

How to read it: each line gives the median (and p90 for in-process runs) in ms. "x bare" is a median over
bare httpx's; the difference is genctl's per-generation cost in Python (planning, request building, response
parsing, atomic save). Both sides build an httpx.Client per generation (an SSL context, ~15 ms here); the
ratio without that shared constant is printed too. genctl and bare should make the same HTTP calls; a
mismatch is flagged. In (c), "x pass" is over a bare interpreter start, and the slowest imports of
`genctl generate` are listed. Runs of (a) and (b) alternate so drift hits both alike; the sandbox shares this
process's GIL with (a) and (b) equally. Not a test: nothing is asserted; run it by hand.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from genctl.config import for_sandbox, load_settings
from genctl.generation import generate
from genctl.plan import GenerationRequest
from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_OK
from genctl.settings import Settings

MODEL = "fal-ai/flux/schnell"
PROMPT = "a red fox in fresh snow, benchmark"
SIZE = {"width": 256, "height": 256}
SEED = 7
PARAMS = ['image_size={"width":256,"height":256}', f"seed={SEED}"]
INPUT: dict[str, Any] = {"prompt": PROMPT, "image_size": SIZE, "seed": SEED}
CHUNK = 1 << 20
RUNS = 30  # in-process generations per variant
PROC_RUNS = 10  # subprocess runs per command
WARMUP = 3
MAX_POLLS = 50  # the bare client's poll loop bound (a zero-latency job is done on the first status read)
_SCRUB = ("FAL_", "REPLICATE_", "GENCTL_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def clean_environ() -> dict[str, str]:
    """os.environ without keys, genctl settings or proxies (which would route 127.0.0.1 elsewhere)."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUB)}


def median_p90(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=10, method="inclusive")[-1]


def bare_generation(base: str, dest: Path, *, fsync: bool) -> int:
    """submit, poll status until COMPLETED, fetch the result, stream the first image to a file; its size."""
    headers = {"Authorization": f"Key {FAL_KEY_OK}", "Accept": "application/json"}
    with httpx.Client(timeout=30.0) as client:
        submit = client.post(f"{base}/fal/queue/{MODEL}", json=INPUT, headers=headers)
        submit.raise_for_status()
        job = submit.json()
        for _ in range(MAX_POLLS):
            status = client.get(job["status_url"], params={"logs": "1"}, headers=headers)
            status.raise_for_status()
            if status.json()["status"] == "COMPLETED":
                break
        else:
            raise RuntimeError(f"job {job['request_id']} did not complete in {MAX_POLLS} polls")
        result = client.get(job["response_url"], headers=headers)
        result.raise_for_status()
        url = result.json()["images"][0]["url"]
        size = 0
        with client.stream("GET", url) as media, open(dest / f"{job['request_id']}.png", "wb") as fh:
            media.raise_for_status()
            for chunk in media.iter_bytes(CHUNK):
                fh.write(chunk)
                size += len(chunk)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        return size


def calls(box: Sandbox, run: Callable[[], object]) -> list[str]:
    """The requests one run makes, as `METHOD host` lines in order."""
    box.clear_requests()
    run()
    return [f"{r.method} {r.host}{'?' + r.query if r.query else ''}" for r in box.requests]


def in_process(box: Sandbox, out_dir: Path) -> None:
    env = {**box.env(), "FAL_KEY": FAL_KEY_OK, "GENCTL_HOME": str(out_dir / "home")}
    settings: Settings = for_sandbox(load_settings(env=env), env)
    request = GenerationRequest(
        prompt=PROMPT, model=MODEL, params=list(PARAMS), output_dir=out_dir / "genctl"
    )
    bare_dir = out_dir / "bare"
    bare_dir.mkdir()
    variants: dict[str, Callable[[], object]] = {
        "genctl generate()": lambda: generate(settings, request),
        "bare httpx": lambda: bare_generation(box.url, bare_dir, fsync=False),
        "bare httpx + fsync": lambda: bare_generation(box.url, bare_dir, fsync=True),
    }

    # The first run also fetches the model's input schema for the pre-flight check (a free GET, then cached
    # for catalog_ttl): count the steady state, and say what the cold run added.
    cold_calls = calls(box, variants["genctl generate()"])
    genctl_calls = calls(box, variants["genctl generate()"])
    bare_calls = calls(box, variants["bare httpx"])
    extra = [call for call in cold_calls if call not in genctl_calls]
    print(f"HTTP calls per generation: genctl {len(genctl_calls)}, bare {len(bare_calls)}")
    print(f"  (a cold schema cache adds {len(extra)}: {', '.join(extra) or 'none'})")
    for mine, theirs in zip(genctl_calls, bare_calls, strict=False):
        print(f"  genctl {mine:<28} bare {theirs}")
    if genctl_calls != bare_calls:
        print("  MISMATCH: genctl and bare httpx do not make the same calls")

    for _ in range(WARMUP):
        for run in variants.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(RUNS):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)

    client_times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        httpx.Client().close()
        client_times.append(time.perf_counter() - start)
    client = statistics.median(client_times)

    bare_median = statistics.median(times["bare httpx"])
    print(f"\nIn process, {RUNS} generations each (256x256 PNG, model latency 0):")
    for name, samples in times.items():
        med, p90 = median_p90(samples)
        print(
            f"  {name:<20} median {med * 1000:6.2f} ms   p90 {p90 * 1000:6.2f} ms"
            f"   {med / bare_median:5.2f}x bare"
        )
    genctl_median = statistics.median(times["genctl generate()"])
    print(f"  genctl adds {(genctl_median - bare_median) * 1000:.2f} ms per generation over bare httpx")
    print(
        f"  both include httpx.Client() construction (SSL context, CA bundle), {client * 1000:.2f} ms;"
        f" without it genctl/bare = {(genctl_median - client) / (bare_median - client):.2f}x"
    )


def wall(argv: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(PROC_RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def as_process(box: Sandbox, out_dir: Path) -> None:
    env = {
        **clean_environ(),
        **box.env(),
        "FAL_KEY": FAL_KEY_OK,
        "GENCTL_HOME": str(out_dir / "home"),
        "NO_COLOR": "1",
    }
    out = out_dir / "proc"
    params = [arg for item in PARAMS for arg in ("-p", item)]
    gen = [sys.executable, "-m", "genctl", "generate", PROMPT, "-m", MODEL, *params, "-o", str(out), "-q"]

    box.clear_requests()
    subprocess.run(gen, check=True, capture_output=True, env=env, timeout=60)
    print(f"\nAs a process, {PROC_RUNS} runs each (one warm-up run; it made {len(box.requests)} HTTP calls):")
    base = wall([sys.executable, "-c", "pass"], env)
    rows = [
        ("python -c pass", base),
        ("genctl --version", wall([sys.executable, "-m", "genctl", "--version"], env)),
        ("genctl generate", wall(gen, env)),
    ]
    for name, t in rows:
        print(f"  {name:<20} median {t * 1000:7.1f} ms   {t / base:5.2f}x pass")
    print(f"  generate - --version: {(rows[2][1] - rows[1][1]) * 1000:.1f} ms (imports + the generation)")
    top_imports(gen, env)


def top_imports(argv: list[str], env: dict[str, str]) -> None:
    """One `-X importtime` run of the command: total import time and the slowest top-level imports."""
    argv = [argv[0], "-X", "importtime", *argv[1:]]
    proc = subprocess.run(argv, check=True, capture_output=True, text=True, env=env, timeout=60)
    top: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        head, _, rest = line.partition("|")
        if not head.startswith("import time:") or "cumulative" in rest:
            continue
        cumulative, _, name = rest.partition("|")
        if name.startswith(" ") and not name.startswith("  "):  # top level: imported by no other module
            top.append((int(cumulative), name.strip()))
    top.sort(reverse=True)
    total = sum(us for us, _ in top)
    slowest = ", ".join(f"{name} {us / 1000:.0f}" for us, name in top[:6])
    print(f"  imports in genctl generate (-X importtime, inflated by it): {total / 1000:.0f} ms in all")
    print(f"    slowest top-level imports (cumulative ms): {slowest}")


def main() -> None:
    # In-process httpx (genctl's and bare) reads proxy settings from os.environ: keep them off loopback.
    for name in list(os.environ):
        if name.upper().startswith(_SCRUB):
            del os.environ[name]
    with Sandbox(model_latency=0.0) as box, tempfile.TemporaryDirectory(prefix="genctl-bench-") as tmp:
        in_process(box, Path(tmp))
        as_process(box, Path(tmp))


if __name__ == "__main__":
    main()
