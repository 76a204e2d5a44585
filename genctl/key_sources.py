"""Where keys come from: env variables and config entries, cleaned of stray quotes and spaces, merged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from genctl.providers import registry
from genctl.values import Key, mask

# Env vars holding keys, in the order their keys come in the pool (fal-client reads FAL_KEY first too).
_SPACE = re.compile(r"\s")
KEY_ENV_VARS: dict[str, tuple[str, ...]] = {p.name: p.key_env_vars for p in registry.PROVIDERS.values()}


_SCHEME = re.compile(r"(key|token|bearer)\s+(?=\S+$)", re.IGNORECASE)


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
    # `Key id:secret`, `Token r8_…`, `Bearer r8_…`: the Authorization header pasted whole. No key holds a
    # space, so the word in front is the scheme genctl adds itself.
    scheme = _SCHEME.match(value)
    if scheme:
        notes.append(f"the {scheme.group(1)!r} prefix")
        value = value[scheme.end() :]
    return value, notes


def clean_entry(raw: str, provider: str, where: str, warnings: list[str]) -> str:
    """`raw` cleaned by clean_key, with a warning naming `where` (the key only masked) if that changed it."""
    secret, notes = clean_key(raw)
    if notes and secret:
        _cleaned(where, mask(secret, provider), notes, warnings)
    return secret


def _cleaned(where: str, masked: str, notes: list[str], warnings: list[str]) -> None:
    removed = " and ".join(notes)
    warnings.append(f"{where} ({masked}): removed {removed} from the key — providers reject it (401)")


def env_keys(provider: str, env: Mapping[str, str], warnings: list[str]) -> list[Key]:
    """The provider's keys from its env variables, in pool order. Each may hold several, separated by commas,
    spaces or line breaks (`FAL_KEY=$(cat keys.txt)` with one key per line)."""
    keys: list[Key] = []
    for var in KEY_ENV_VARS[provider]:
        value = env.get(var, "")
        pieces = _pieces(value)
        if len(pieces) > 1:
            # Quotes around a whole list would otherwise stick to its first and last keys.
            value, notes = clean_key(value)
            if notes:
                _cleaned(var, "the whole list", notes, warnings)
            pieces = _pieces(value)
            if any(piece.strip() and _SPACE.search(piece.strip()) for piece in value.split(",")):
                warnings.append(
                    f"{var} holds several keys separated by spaces or line breaks: "
                    "each is used as its own key"
                )
        for number, entry in enumerate(pieces, start=1):
            where = var if len(pieces) == 1 else f"{var} entry {number}"
            # A space after a comma is list formatting, not a pasting accident: no warning for it.
            secret = clean_entry(entry.strip(" ") if len(pieces) > 1 else entry, provider, where, warnings)
            if secret:
                label = f"env:{var}" if number == 1 else f"env:{var}#{number}"
                keys.append(Key(provider=provider, label=label, source=var, _secret=secret))
    keys.extend(_key_pair(registry.info(provider), env, warnings))
    return keys


def _pieces(value: str) -> list[str]:
    """`value` split at commas, and each part at inner whitespace: the entries of a key list."""
    pieces: list[str] = []
    for part in value.split(","):
        inner = part.strip()
        if _SCHEME.match(inner):  # `Key id:secret`: one key pasted with its scheme, not two keys
            pieces.append(part)
            continue
        pieces.extend(inner.split() if _SPACE.search(inner) else [part])
    return pieces


def _key_pair(info: registry.ProviderInfo, env: Mapping[str, str], warnings: list[str]) -> list[Key]:
    """The key split over two env vars (FAL_KEY_ID + FAL_KEY_SECRET), joined by the provider's separator."""
    if info.key_pair_env is None or info.key_separator is None:
        return []
    id_var, secret_var = info.key_pair_env
    pair = {var: env.get(var, "") for var in info.key_pair_env}
    missing = [var for var, value in pair.items() if not value.strip()]
    if len(missing) == 1:
        [present] = set(pair) - set(missing)
        warnings.append(
            f"{present} is set but {missing[0]} is not: that key is ignored; "
            f"set {missing[0]} too, or put id{info.key_separator}secret in {info.key_env}"
        )
    if missing:
        return []
    cleaned = {var: clean_key(value) for var, value in pair.items()}
    joined = info.key_separator.join(part for part, _ in cleaned.values())
    for var, (_, notes) in cleaned.items():
        if notes:
            _cleaned(var, mask(joined, info.name), notes, warnings)
    source = f"{id_var}+{secret_var}"
    return [Key(provider=info.name, label=f"env:{id_var}", source=source, _secret=joined)]


def merge_keys(keys: list[Key]) -> list[Key]:
    """The same secret once, in first-seen order: the first label wins, a later account fills a gap."""
    merged: dict[str, Key] = {}
    for key in keys:
        first = merged.get(key.reveal())
        if first is None:
            merged[key.reveal()] = key
        elif first.account is None and key.account is not None:
            merged[key.reveal()] = replace(first, account=key.account)
    return list(merged.values())
