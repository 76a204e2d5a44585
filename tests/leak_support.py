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


def home_text(home: Path) -> str:
    """Everything under GENCTL_HOME as text: sqlite databases as their SQL dump, other files decoded
    leniently (a key in a binary cache still shows)."""
    import sqlite3

    chunks: list[str] = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        if path.read_bytes()[:16].startswith(b"SQLite format 3"):
            with sqlite3.connect(path) as db:
                chunks.append("\n".join(db.iterdump()))
        # every file's bytes too (a database's free pages, the WAL): latin-1 maps each byte to a character
        chunks.append(path.read_bytes().decode("latin-1"))
    return "\n".join(chunks)
