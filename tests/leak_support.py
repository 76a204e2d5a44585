"""Every form a planted key can take in text (#12): what the leak and property tests grep outputs and
files for. Shared here because no test_*.py imports another."""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from pathlib import Path


def key_forms(key: str, *, for_grep: bool = True) -> dict[str, str]:
    """name -> text that must never appear: the key raw, repr-escaped, URL-encoded, base64 (std and
    urlsafe, padded and not) and hex, of the whole key and of the secret half (fal `id:secret`), and the
    secret half alone. `for_grep`: base64 forms cut to their stable prefix (what to search for); without
    it, the whole encodings (what a hostile server echoes)."""
    parts = {"key": key}
    if ":" in key:
        parts["secret"] = key.split(":", 1)[1]
    forms: dict[str, str] = {}
    for part, text in parts.items():
        raw = text.encode("utf-8")
        forms[f"{part} raw"] = text
        forms[f"{part} repr"] = repr(raw)[2:-1]
        forms[f"{part} url"] = urllib.parse.quote(text, safe="")
        forms[f"{part} url+"] = urllib.parse.quote_plus(text)
        for name, encode in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
            encoded = encode(raw).decode("ascii")
            forms[f"{part} {name}"] = encoded
            forms[f"{part} {name} unpadded"] = encoded.rstrip("=")
        forms[f"{part} hex"] = binascii.hexlify(raw).decode("ascii")
    # a base64 string is only a leak when it is long enough to carry the secret: its last, padded chunk
    # may differ with what follows, so grep the stable prefix of every encoding
    for name in [n for n in forms if "b64" in n and for_grep]:
        forms[name] = forms[name][: max(16, len(forms[name]) - 4)]
    return forms


def leaks(text: str, key: str) -> list[str]:
    """The names of the forms of `key` found in `text` (empty: no leak)."""
    return [name for name, form in key_forms(key).items() if form and form in text]


def home_text(home: Path, *, besides: tuple[Path, ...] = ()) -> str:
    """Everything under GENCTL_HOME as text: sqlite databases as their SQL dump, other files decoded
    leniently (a key in a binary cache still shows). `besides`: files the test itself wrote (a config
    holding the key on purpose), left out."""
    import sqlite3

    chunks: list[str] = []
    for path in sorted(p for p in home.rglob("*") if p.is_file() and p not in besides):
        if path.read_bytes()[:16].startswith(b"SQLite format 3"):
            with sqlite3.connect(path) as db:
                chunks.append("\n".join(db.iterdump()))
        # every file's bytes too (a database's free pages, the WAL): latin-1 maps each byte to a character
        chunks.append(path.read_bytes().decode("latin-1"))
    return "\n".join(chunks)


def echo_of(key: str) -> str:
    """What a hostile server quotes back: the key in every form at once, and slices of the base64 of the
    header it was sent (cut mid-group, both alphabets)."""
    header = ("Key " if ":" in key else "Bearer ") + key
    slices = [
        encode(header.encode()).decode("ascii")[cut : cut + 30]
        for encode in (base64.b64encode, base64.urlsafe_b64encode)
        for cut in (5, 7)
    ]
    return " ".join([*key_forms(key, for_grep=False).values(), *slices])


class GarbageServer:
    """A loopback TCP server that answers every connection with `reply` (not HTTP: what a misrouted port,
    or a TLS-less service, sends) and closes; a context manager."""

    def __init__(self, reply: bytes) -> None:
        import socket
        import threading

        self.reply = reply
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        import contextlib

        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(OSError), conn:
                conn.settimeout(1)
                conn.recv(65536)
                conn.sendall(self.reply)

    def __enter__(self) -> GarbageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(1)
        self._sock.close()
