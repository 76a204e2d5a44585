"""Sandbox media: how long the fake takes to draw the PNGs it serves, next to zlib compressing the same
pixels once.

A batch's every item downloads a PNG from the sandbox, and the sandbox is one Python process: if it draws
slowly, the batch waits on the fake, not on genctl (#13). For each size, the median of RUNS draws with a
fresh key each (nothing cached) is shown in ms, with its ratio to `zlib.compress(level=1)` of an image of
that size's raw rows: under 1.0 the fake draws faster than compressing its pixels whole would take.

Not a test: nothing is asserted. Usage: `uv run python benchmarks/sandbox_media.py`.
"""

from __future__ import annotations

import statistics
import time
import zlib

from genctl.sandbox import media

RUNS = 15
SIZES = ((256, 256), (1024, 768), (1024, 1024), (2048, 2048))


def draw_ms(width: int, height: int) -> float:
    """Median ms of drawing a PNG of this size, each with a key not drawn before."""
    times = []
    for run in range(RUNS):
        started = time.perf_counter()
        media.png_bytes(width, height, f"bench {run} {width}x{height}".encode())
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def squeeze_ms(width: int, height: int) -> float:
    """Median ms of zlib level 1 over raw PNG rows of this size (a filter byte and RGB per pixel)."""
    rows = (bytes(range(256)) * (width * height * 3 // 256 + 2))[: (1 + 3 * width) * height]
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        zlib.compress(rows, 1)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    print(f"{'size':>11}  {'png ms':>7}  {'zlib ms':>7}  {'ratio':>6}")
    for width, height in SIZES:
        draw, squeeze = draw_ms(width, height), squeeze_ms(width, height)
        print(f"{width:>5}x{height:<5}  {draw:>7.1f}  {squeeze:>7.1f}  {draw / squeeze:>6.2f}")


if __name__ == "__main__":
    main()
