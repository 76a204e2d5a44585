"""Download: throughput and peak memory of saving one 200 MiB output, against bare httpx streaming to a file.

The sandbox runs in its own process (`python -m genctl sandbox serve --port 0`, its `export` lines parsed),
so it neither shares this process's GIL nor shows up in any RSS figure. One fal-ai/flux/schnell job with
`[sandbox:big=209715200]` in the prompt yields a 200 MiB PNG URL that the sandbox regenerates for each GET,
1 MiB at a time.

  throughput  genctl's `download.save_output` (temp file, fsync, link into place) against a bare
              `httpx.Client.stream` GET written with the same 1 MiB chunk size, without and with an fsync,
              and the same GET thrown away (the ceiling the sandbox and loopback allow). Once to disk (the
              temp dir) and once to tmpfs (/dev/shm, if writable), where the disk's noise and fsync vanish and
              only the code's own cost is left. Runs rotate; medians in MiB/s and ratios to bare httpx.
  memory      peak RSS (ru_maxrss from os.wait4 on that one child, so nothing else pollutes the max) of
              `python -m genctl generate` doing the 200 MiB download, next to a small 256x256 generation,
              `python -m genctl --version` and `python -c pass` as baselines. Constant-memory streaming
              shows as the big and the small generation having about the same peak.

How to read it: MB here means MiB (2**20 bytes). The bare httpx rate is the ceiling the sandbox can serve on
this machine; "x bare" near 1.00 means genctl's saving adds little. The peak RSS line names its target
(< 80 MB). Temp files are deleted as soon as each run is measured. Not a test: nothing is asserted.
"""

from __future__ import annotations

import os
import queue
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from genctl.download import CHUNK, save_output
from genctl.http import make_client
from genctl.providers.base import Output

MB = 1 << 20
BIG = 209_715_200  # 200 MiB
MODEL = "fal-ai/flux/schnell"
BIG_PROMPT = f"[sandbox:big={BIG}] a very large fox"
SMALL_PARAMS = ["-p", 'image_size={"width":256,"height":256}', "-p", "seed=7"]
REPS = 5  # downloads per throughput variant
RSS_RUNS = 2  # big generations measured for peak RSS (the max is reported)
TARGET_MB = 80
CHILD_TIMEOUT = 120.0
SHM = Path("/dev/shm")  # tmpfs: the same runs without the disk, to isolate the code's own cost
_SCRUB = ("FAL_", "REPLICATE_", "GENCTL_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def clean_environ() -> dict[str, str]:
    """os.environ without keys, genctl settings or proxies (which would route 127.0.0.1 elsewhere)."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUB)}


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)
    lines.put("")  # end of output


@contextmanager
def sandbox_process(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`genctl sandbox serve --port 0` in a child process; yields the variables of its `export` lines."""
    argv = [sys.executable, "-m", "genctl", "sandbox", "serve", "--port", "0"]
    proc = subprocess.Popen(
        argv,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    # A reader thread, not select(): the text wrapper may already hold the next lines in its buffer.
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        exports: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while "REPLICATE_API_TOKEN" not in exports:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"no export lines from the sandbox (exit code {proc.poll()})") from None
            if not line:
                raise RuntimeError(f"the sandbox exited early (exit code {proc.wait()})")
            words = shlex.split(line)
            if len(words) == 2 and words[0] == "export":
                name, _, value = words[1].partition("=")
                exports[name] = value
        yield exports
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the server stops and closes its socket
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()


def big_output_url(exports: dict[str, str]) -> str:
    """Run one big job with bare httpx (submit, status, result); the URL of its 200 MiB image."""
    queue = exports["GENCTL_FAL_QUEUE_URL"]
    headers = {"Authorization": f"Key {exports['FAL_KEY']}", "Accept": "application/json"}
    with httpx.Client(timeout=30.0) as client:
        submit = client.post(f"{queue}/{MODEL}", json={"prompt": BIG_PROMPT, "seed": 7}, headers=headers)
        submit.raise_for_status()
        job = submit.json()
        for _ in range(50):
            status = client.get(job["status_url"], headers=headers)
            status.raise_for_status()
            if status.json()["status"] == "COMPLETED":
                break
        else:
            raise RuntimeError("the big job did not complete")
        result = client.get(job["response_url"], headers=headers)
        result.raise_for_status()
        url: str = result.json()["images"][0]["url"]
        return url


def genctl_save(url: str, dest: Path) -> int:
    with make_client(timeout=30.0, connect_timeout=10.0) as client:
        saved = save_output(
            client,
            Output(url=url, content_type="image/png"),
            dest_dir=dest,
            model=MODEL,
            request_id="bench0000",
            index=1,
        )
    assert saved.path is not None
    saved.path.unlink()
    return saved.bytes


def bare_save(url: str, dest: Path, *, fsync: bool) -> int:
    path = dest / "bare.png"
    size = 0
    with httpx.Client(timeout=30.0) as client, client.stream("GET", url) as response:
        response.raise_for_status()
        with open(path, "wb") as fh:
            for chunk in response.iter_bytes(CHUNK):
                fh.write(chunk)
                size += len(chunk)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    path.unlink()
    return size


def bare_discard(url: str) -> int:
    """The same GET with the bytes thrown away: the rate the sandbox and loopback allow, the ceiling."""
    size = 0
    with httpx.Client(timeout=30.0) as client, client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(CHUNK):
            size += len(chunk)
    return size


def throughput(url: str, dest: Path, where: str) -> None:
    variants: dict[str, Callable[[], int]] = {
        "genctl save_output": lambda: genctl_save(url, dest),
        "bare httpx.stream": lambda: bare_save(url, dest, fsync=False),
        "bare httpx + fsync": lambda: bare_save(url, dest, fsync=True),
        "bare, no file": lambda: bare_discard(url),
    }
    variants["bare httpx.stream"]()  # warm-up: first connection, page cache, the sandbox's code paths
    rates: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for rep in range(REPS):
        # Each round starts with the next variant: the disk's writeback stalls hit the first runs hardest.
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            run = variants[name]
            start = time.perf_counter()
            size = run()
            elapsed = time.perf_counter() - start
            if size != BIG:
                raise RuntimeError(f"{name} saved {size} bytes, not {BIG}")
            rates[name].append(size / MB / elapsed)
    bare = statistics.median(rates["bare httpx.stream"])
    fsynced = statistics.median(rates["bare httpx + fsync"])
    print(f"Throughput saving {BIG // MB} MiB to {where}, {REPS} runs each (median, min-max):")
    for name, samples in rates.items():
        med = statistics.median(samples)
        spread = f"({min(samples):.0f}-{max(samples):.0f})"
        ratios = f"{med / bare:5.2f}x bare  {med / fsynced:5.2f}x bare+fsync"
        print(f"  {name:<20} {med:7.1f} MiB/s  {spread:<11} {ratios}")


# Run with `python -S` so its own footprint (the floor of any ru_maxrss it reports) stays small: a forked
# child's ru_maxrss starts from the RSS of the process that forked it, which is why this benchmark process
# (httpx imported, ~40 MB) must not be the one to spawn the measured child. While the child runs, VmHWM in
# /proc/<pid>/status is polled as a second opinion (it misses only a peak in the last few ms of a run).
_HELPER = """
import os, sys, time
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
polled = 0
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    polled = max(polled, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.005)
print(usage.ru_maxrss, polled, os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Peak:
    maxrss: float  # MiB, ru_maxrss from wait4
    polled: float  # MiB, the highest VmHWM seen while polling (0 if the child was too quick)
    seconds: float
    exit_code: int


def peak_rss(argv: list[str], env: dict[str, str], log: Path) -> Peak:
    """Peak RSS of one run of `argv`, spawned by a small fresh helper process (see _HELPER)."""
    with open(log, "wb") as fh:
        start = time.perf_counter()
        helper = subprocess.run(
            [sys.executable, "-S", "-c", _HELPER, *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=fh,
            check=True,
            timeout=CHILD_TIMEOUT,
        )
        elapsed = time.perf_counter() - start
    maxrss, polled, code = (int(word) for word in helper.stdout.split()[-3:])
    return Peak(maxrss / 1024, polled / 1024, elapsed, code)  # Linux reports KiB


def memory(exports: dict[str, str], env: dict[str, str], tmp: Path) -> None:
    out = tmp / "cli"
    log = tmp / "child.log"
    child_env = {**env, **exports, "GENCTL_HOME": str(tmp / "home"), "NO_COLOR": "1"}
    genctl = [sys.executable, "-m", "genctl"]
    gen = [*genctl, "generate", "-m", MODEL, "-o", str(out), "-q"]
    rows: list[tuple[str, list[str]]] = [
        ("python -S -c pass (floor)", [sys.executable, "-S", "-c", "pass"]),
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("genctl --version", [*genctl, "--version"]),
        ("genctl generate 256x256", [*gen, *SMALL_PARAMS, "a small fox"]),
    ]
    print("\nPeak RSS of one genctl process (ru_maxrss; the sandbox runs in another process):")
    for name, argv in rows:
        peak = peak_rss(argv, child_env, log)
        print(
            f"  {name:<26} {peak.maxrss:6.1f} MB"
            + (f"   (exit code {peak.exit_code})" if peak.exit_code else "")
        )
        clear(out)
    peaks: list[Peak] = []
    for _ in range(RSS_RUNS):
        peak = peak_rss([*gen, BIG_PROMPT], child_env, log)
        saved = sum(p.stat().st_size for p in out.iterdir()) if out.exists() else 0
        clear(out)
        if peak.exit_code or saved != BIG:
            said = log.read_text(errors="replace").strip()[-400:]
            print(f"  genctl generate 200 MiB failed (exit {peak.exit_code}, {saved} bytes saved): {said}")
            return
        peaks.append(peak)
    worst = max(p.maxrss for p in peaks)
    runs = ", ".join(f"{p.maxrss:.1f}" for p in peaks)
    polled = ", ".join(f"{p.polled:.1f}" for p in peaks)
    print(f"  genctl generate 200 MiB    {worst:6.1f} MB   (runs: {runs}; VmHWM polled: {polled})")
    wall = statistics.median(p.seconds for p in peaks)
    print(f"  the whole CLI run: {wall:.2f} s, {BIG / MB / wall:.0f} MiB/s including start-up")
    print(f"\npeak RSS {worst:.1f} MB (target < {TARGET_MB} MB)")


def clear(folder: Path) -> None:
    if folder.exists():
        for path in folder.iterdir():
            path.unlink()


def main() -> None:
    # In-process httpx reads proxy settings from os.environ: keep them off loopback.
    for name in list(os.environ):
        if name.upper().startswith(_SCRUB):
            del os.environ[name]
    env = clean_environ()
    with tempfile.TemporaryDirectory(prefix="genctl-bench-") as name, sandbox_process(env) as exports:
        tmp = Path(name)
        url = big_output_url(exports)
        throughput(url, tmp, f"disk ({tmp.parent})")
        if SHM.is_dir() and os.access(SHM, os.W_OK):
            with tempfile.TemporaryDirectory(prefix="genctl-bench-", dir=SHM) as shm:
                print()
                throughput(url, Path(shm), f"tmpfs ({SHM}): no disk, fsync is free")
        memory(exports, env, tmp)


if __name__ == "__main__":
    main()
