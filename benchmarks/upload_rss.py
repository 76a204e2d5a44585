"""Peak memory of `-i` uploads: `genctl generate -i NAME=FILE` with a big local file, to fal storage (a 200
MB file: the multipart route) and to Replicate files (95 MB: Replicate takes files under 100 MB), against the
sandbox in this process.

Each is a whole child process; its peak RSS comes from the kernel's own accounting (os.wait4's ru_maxrss), and
is printed with its ratio to the 80 MB target (issue #13) and next to a run with a 1 MB file (the process's
floor: interpreter, httpx, the SDKs). The sandbox checks the bytes it stored against the file's SHA-256. Not a
test: nothing is asserted; run it by hand: `uv run python benchmarks/upload_rss.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from genctl.sandbox import keys as sk

TARGET_MB = 80.0
MB = 1024 * 1024
CASES = (  # (provider, model, input name, file size)
    ("fal", "fal-ai/flux/dev/image-to-image", "image_url", 200 * MB),
    ("replicate", "black-forest-labs/flux-kontext-pro", "input_image", 95 * MB),
    # A run with a 1 MB file (sent inline: the process's floor) precedes each.
)
_SCRUB = ("FAL_", "REPLICATE_", "GENCTL_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MB)
    with path.open("wb") as out:
        for n in range(size // MB):
            chunk = bytes([n % 256]) + block[1:]
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(peak RSS in MB, exit code, last line of stderr) of one child process."""
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return usage.ru_maxrss / 1024, child.returncode, lines[-1] if lines else ""


# The sandbox runs in a process of its own: a child's ru_maxrss starts at its parent's RSS when it was forked
# (Linux copies the high-water mark through fork and exec), and a sandbox holding 300 MB of uploads would
# be counted in every child. It prints its env as JSON, then answers each line on stdin with the SHA-256
# of every file it stores.
_SERVER = """
import hashlib, json, sys
from genctl.sandbox import Sandbox
with Sandbox() as box:
    print(json.dumps(box.env()), flush=True)
    for _ in sys.stdin:
        with box._ctx.store.lock:
            data = [f.data for f in box._ctx.store.files.values()]
        print(json.dumps([hashlib.sha256(d).hexdigest() for d in data]), flush=True)
"""


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdin is not None and server.stdout is not None

    def stored_hashes() -> set[str]:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write("hashes\n")
        server.stdin.flush()
        return set(json.loads(server.stdout.readline()))

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUB)}
        env.update(json.loads(server.stdout.readline()), GENCTL_HOME=str(Path(tmp) / "home"))
        env.update(FAL_KEY=sk.FAL_KEY_OK, REPLICATE_API_TOKEN=sk.REPLICATE_TOKEN_OK)
        for provider, model, name, size in CASES:
            for label, bytes_ in (("1 MB", MB), (f"{size // MB} MB", size)):
                path = Path(tmp) / f"{provider}-{bytes_}.bin"
                digest = make_file(path, bytes_)
                argv = [sys.executable, "-m", "genctl", "generate", "a test", "-m", model]
                argv += ["-i", f"{name}={path}", "-o", str(Path(tmp) / "out"), "--json"]
                rss, code, last = peak_rss_mb(argv, env)
                intact = "intact" if digest in stored_hashes() else "NOT STORED"
                ratio = f"{rss / TARGET_MB:.2f} of the {TARGET_MB:.0f} MB target"
                print(
                    f"{provider:<9} {label:>6}: peak RSS {rss:6.1f} MB ({ratio}); exit {code}; bytes {intact}"
                )
                if code != 0:
                    print(f"          {last}")
                path.unlink()
    server.stdin.close()
    server.wait()


if __name__ == "__main__":
    main()
