"""API keys: the Key value type, masking, and cleaning what users paste.

A Key never shows its secret in repr/str/format; the only way to the secret is `Key.reveal()`, called
where a request header is built. (Rotation and the persisted KeyPool arrive with the "Keys" issue.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def mask(secret: str, provider: str) -> str:
    """The one displayable form of a key: `a1b2…9f0e` (fal: id head, secret tail) or `r8_A…x9Yz`."""
    s = secret.strip()
    if provider == "fal" and ":" in s:
        key_id, _, key_secret = s.partition(":")
        head, tail = key_id[:4], key_secret[-4:]
        if len(key_id) < 8 or len(key_secret) < 8:
            return "…" if not s else f"{key_id[:1]}…"
        return f"{head}…{tail}"
    if len(s) < 12:
        # Too short to show any of it safely.
        return "…" if not s else f"{s[:1]}…"
    return f"{s[:4]}…{s[-4:]}"


def fingerprint(secret: str) -> str:
    """A short stable hash: the only form of a key ever written to state files."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Key:
    """One API key of one provider, with where it came from."""

    provider: str
    label: str
    source: str
    _secret: str = field(repr=False)
    account: str | None = None

    def reveal(self) -> str:
        """The secret itself, for the Authorization header and nothing else."""
        return self._secret

    @property
    def masked(self) -> str:
        return mask(self._secret, self.provider)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._secret)

    def __str__(self) -> str:
        return f"{self.label} ({self.masked})"

    def __repr__(self) -> str:
        return f"Key(provider={self.provider!r}, label={self.label!r}, masked={self.masked!r})"


def clean_key(raw: str) -> tuple[str, list[str]]:
    """Strip whitespace and surrounding quotes from a pasted key; say what was removed (a classic 401)."""
    notes: list[str] = []
    value = raw
    stripped = value.strip()
    if stripped != value:
        notes.append("surrounding whitespace or a newline")
        value = stripped
    while len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        notes.append("surrounding quotes")
        value = value[1:-1].strip()
    return value, notes
