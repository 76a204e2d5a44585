"""The README's console examples are what genctl prints (#14): each `$ genctl …` line of every ```console
block runs against the sandbox, on a real pseudo-terminal of 80 columns, and the screen it leaves must be the
lines shown under it.

How each example runs:
- in-process (fast), with stdout and stderr on one pseudo-terminal, as in a shell: what a person sees, the
  spinners erased, tables drawn at 80 columns; the screen is replayed by a VT emulator (pyte) with the
  terminal's own wrapping of long lines undone (a README line is one line genctl wrote);
- in a hermetic home, against a fresh sandbox whose URLs are in the environment, with its valid demo fal
  key in FAL_KEY and no Replicate token (the README's reader with a fal key); `VAR=value` before `genctl`
  in the README line sets that variable, and ENV below adds what a block's text says in words (the keys
  the doctor example runs with, the fallback example's set-up);
- the exit code must be 0, or the one in EXIT for examples that show a failure.

Normalised on both sides, because they change from run to run and nothing else does: the sandbox's port,
request ids (UUIDs, and the 8 characters of one in output file names), the random parts of output URLs,
an output's size in bytes, and elapsed times (`"seconds": 0.137`, `in 0.3 s`).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shlex
import struct
import sys
import termios
import threading
from pathlib import Path

import pyte
import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_LOCKED_BALANCE, FAL_KEY_OK, REPLICATE_TOKEN_OK

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
COLUMNS = 80
ENV: dict[str, dict[str, str]] = {
    "genctl doctor -m fal-ai/flux-dev": {"FAL_KEY": f"{FAL_KEY_LOCKED_BALANCE},{FAL_KEY_OK}"},
    'genctl generate "a fox" -m flux-schnell --quiet': {
        "FAL_KEY": FAL_KEY_LOCKED_BALANCE,
        "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK,
        "GENCTL_FALLBACK": "fal,replicate",
    },
}
EXIT = {
    'FAL_KEY=0b1c2d3e-only-the-key-id genctl generate "a fox"': 3,
    "genctl doctor -m fal-ai/flux-dev": 1,
    'genctl generate --sandbox "a fox [sandbox:nsfw]"': 5,
}
VARYING = [
    (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "REQUEST-ID"),
    (r"-[0-9a-z]{8}-(\d+)\.(png|jpeg|jpg|webp|mp4|wav|mp3)\b", r"-ID-\1.\2"),
    (r"/media/([a-z]+)/[0-9a-f]+/[0-9a-f]+\.", r"/media/\1/FILE."),
    (r'"bytes": \d+', '"bytes": N'),
    (r'"seconds": [0-9.]+', '"seconds": S'),
    (r"\bin \d+(?:\.\d+)? s\b", "in S s"),
]


def normalised(lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    for pattern, placeholder in VARYING:
        text = re.sub(pattern, placeholder, text)
    return text.splitlines()


def console_examples() -> list[tuple[str, list[str]]]:
    """Each `$ command` of the README's console blocks, with the lines shown under it."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```console\n(.*?)^```$", README, flags=re.M | re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *shown = chunk.rstrip("\n").split("\n")
            while shown and not shown[-1]:
                shown.pop()
            found.append((command, shown))
    return found


EXAMPLES = console_examples()


def screen_lines(raw: str) -> list[str]:
    """What `raw` leaves on a terminal, replayed by a VT emulator as wide as the longest line genctl wrote
    (so the terminal's own wrapping is undone) and as tall as needed."""
    text = raw.replace("\r\n", "\n").replace("\n", "\r\n")
    screen = pyte.Screen(max(map(len, text.split("\n"))) + COLUMNS, text.count("\n") + 2)
    pyte.Stream(screen).feed(text)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def on_terminal(args: list[str]) -> tuple[int, list[str]]:
    """Run genctl in this process with stdout and stderr on one pseudo-terminal of COLUMNS columns."""
    from genctl.cli import app

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    terminal = open(slave, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed below)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = terminal
    try:
        code = app(args, prog_name="genctl", standalone_mode=False)
    finally:
        sys.stdout, sys.stderr = saved
        terminal.close()
    reader.join(10)
    os.close(master)
    return code or 0, screen_lines(b"".join(chunks).decode())


def test_the_readme_has_the_examples_this_test_promises() -> None:
    commands = [command for command, _ in EXAMPLES]
    assert len(commands) >= 6
    assert set(ENV) | set(EXIT) <= set(commands)
    assert any("--json" in command for command in commands)
    for word in ("generate", "models", "doctor", "keys status"):
        assert any(f"genctl {word}" in command for command in commands), word


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_example_is_what_genctl_prints(
    command: str, shown: list[str], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = shlex.split(command)
    env = {**sandbox.env(), "FAL_KEY": FAL_KEY_OK}
    env.update(ENV.get(command, {}))
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    for name, value in {**env, "COLUMNS": str(COLUMNS), "NO_COLOR": "1"}.items():
        monkeypatch.setenv(name, value)
    assert words[0] == "genctl", command
    code, lines = on_terminal(words[1:])
    print("\n".join(lines))  # shown when the example is wrong: the output to paste
    assert normalised(lines) == normalised(shown)
    assert code == EXIT.get(command, 0)
