"""Value types many floors share: an API key (`Key`) and a described HTTP call (`HttpRequest`).

They live on the ground floor so that config, http, providers and keys can all take them without
importing each other. A Key never shows its secret in repr/str/format; the only way to the secret is
`Key.reveal()`, called where a request header is built.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, BinaryIO

from genctl.errors import GenctlError, error
from genctl.providers import registry

_HEADER_SAFE = frozenset(chr(code) for code in range(0x21, 0x7F))  # visible ASCII: what a header can carry


def mask(secret: str, provider: str) -> str:
    """The one displayable form of a key: `a1b2…9f0e` (fal: id head, secret tail) or `r8_A…x9Yz`."""
    found = registry.PROVIDERS.get(provider)
    return (found or registry.guess_by_key(secret)).mask(secret)


def fingerprint(secret: str) -> str:
    """A short stable hash: the only form of a key ever written to state files."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def shape_warning(secret: str, provider: str) -> str | None:
    """What looks wrong with a key's shape, or None. Only a warning: providers may change their formats."""
    found = registry.PROVIDERS.get(provider)
    if found is None or found.looks_like_key(secret):
        return None
    if found.key_separator and found.key_separator not in secret:
        return f"no {found.key_separator!r}: a {found.name} key is <key_id>{found.key_separator}<key_secret>"
    return f"not the usual {found.key_shape_hint} shape"


def format_problem(secret: str, provider: str) -> tuple[str, str] | None:
    """(what is certainly wrong with the key's text, the fix), or None: a key that could never work, so it
    is never sent. `shape_warning` covers what is merely unusual."""
    this = registry.PROVIDERS.get(provider)
    if this is None:
        return None
    if any(ch.isspace() for ch in secret):
        return "has a space or line break inside it", "Paste the key again as one unbroken line."
    if (odd := unsendable(secret)) is not None:
        fix = "Paste the key again from the provider's key page (copies from documents add such characters)."
        return f"has {odd}, which no HTTP header can carry", fix
    owner = registry.key_owner(secret)
    if owner is not None and owner != provider:
        other = registry.PROVIDERS[owner]
        return (
            f"is a {other.key_noun} ({other.key_look}), not a {this.key_noun}",
            f"Move it to {other.key_env}; {this.key_format_fix}",
        )
    if this.key_separator and this.key_separator not in secret:
        return f"has no {this.key_separator!r}: it is one half of a {this.key_noun}", this.key_format_fix
    return None


def unsendable(secret: str) -> str | None:
    """The first character of `secret` no HTTP header can carry, named (never the key), or None."""
    for position, char in enumerate(secret, start=1):
        if char in _HEADER_SAFE:
            continue
        name = unicodedata.name(char, "a control character").lower()
        return f"the character U+{ord(char):04X} ({name}) at position {position}"
    return None


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

    # Derived once per Key (a batch asks each of them thousands of times); none of them holds the secret.
    @cached_property
    def masked(self) -> str:
        return mask(self._secret, self.provider)

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self._secret)

    @cached_property
    def format_problem(self) -> tuple[str, str] | None:
        return format_problem(self._secret, self.provider)

    def problem_text(self) -> tuple[str, str] | None:
        """(the one message for a key that could never work, its fix), as every command words it."""
        problem = self.format_problem
        return None if problem is None else (f"{self.described} {problem[0]}.", problem[1])

    @property
    def described(self) -> str:
        """The key as messages name it: label, mask, and where it came from unless the label says so
        ("env:FAL_KEY" does; a config label, "laptop", does not)."""
        return f"{self}" if self.source in self.label else f"{self} (from {self.source})"

    def sendable(self) -> str:
        """The secret for an Authorization header; key.format (the key masked) when it could never work,
        so such a key is never sent (httpx would quote it whole in its error)."""
        problem = self.problem_text()
        if problem is not None:
            raise _format_error(self, *problem)
        return self._secret

    @property
    def shape_warning(self) -> str | None:
        return shape_warning(self._secret, self.provider)

    def __str__(self) -> str:
        return f"{self.label} ({self.masked})"

    def __repr__(self) -> str:
        return f"Key(provider={self.provider!r}, label={self.label!r}, masked={self.masked!r})"


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP call, described. `idempotent` decides whether the runner may retry it."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # holds the Authorization secret
    json: Any = None
    params: dict[str, str] | None = None
    idempotent: bool = False
    # multipart parts, field -> (file name, data, mime type); data as an open file streams from disk (httpx
    # reads it in chunks, and seeks back to 0 for a retry)
    files: dict[str, tuple[str, bytes | BinaryIO, str]] | None = field(default=None, repr=False)
    timeout: float | None = None  # read timeout for this call when it must differ from the client's


def _format_error(key: Key, message: str, fix: str) -> GenctlError:
    return error("key.format", message, fix=fix, provider=key.provider)
