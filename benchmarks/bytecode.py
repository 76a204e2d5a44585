"""Compile genctl and its installed dependencies to bytecode before a benchmark times any process.

Where PYTHONDONTWRITEBYTECODE is set (as on this project's CI machines) nothing writes `__pycache__`, and
each process would compile every module it imports again: a cost no installed genctl pays (pip and
`uv sync --compile-bytecode` compile at install). compileall writes anyway and skips what is up to date.
"""

from __future__ import annotations

import compileall
import os
import sysconfig
from pathlib import Path


def ensure() -> None:
    genctl = Path(__file__).resolve().parent.parent / "genctl"
    for folder in (genctl, Path(sysconfig.get_paths()["purelib"])):
        compileall.compile_dir(folder, quiet=2, workers=0)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set: genctl and its dependencies were compiled first")
