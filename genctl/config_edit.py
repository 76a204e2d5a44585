"""Editing the config file (keys added and removed): one writer at a time, every comment and the layout kept.

Every edit is read-modify-write under an flock on `.<name>.lock` beside the file (the holder's death
releases it), waited for at most LOCK_WAIT s or until --timeout (genctl.deadline), then written whole
and atomically (temp + fsync + rename in the same folder, mode 0600 from the first byte). Two parallel
`genctl keys add` both land; neither sees the other's half-written file.

Layout: a key is appended as its own `[[providers.X.keys]]` table right after the provider's last one (or
at the end of the file) and removed as exactly that table's lines, so the bytes outside it stay as the
user wrote them. Where the keys are an inline `keys = [...]` array the edit goes through tomlkit, which
keeps comments too. Each edit is checked: the new text must parse (tomllib) to exactly the intended data.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Array

from genctl import filelock, paths
from genctl.config import read_config
from genctl.errors import GenctlError, error, usage
from genctl.key_sources import clean_key

LOCK_WAIT = 10.0  # seconds another process may hold the lock before an edit gives up (without --timeout)
_HEADER = re.compile(r"^\s*\[")  # the start of any table header (the end of the table before it)
_IDLE = re.compile(r"^\s*(#.*)?$")  # a blank or comment-only line: it belongs to what follows


@dataclass(frozen=True)
class Added:
    """The outcome of add_key: the key's label, or `existing`: the label it already has (nothing written)."""

    label: str
    existing: str | None = None


def write_config(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` as the whole config file (a new file: there are no comments to keep)."""
    _write(_target(path), tomlkit.dumps(dict(data)))


def init_config(path: Path, *, force: bool = False) -> Path:
    """Write the commented example config (shipped in genctl/data/) to `path`, mode 600, atomically and
    under the edit lock; an existing file is kept unless `force`. Returns the file written."""
    example = files("genctl").joinpath("data", "config.example.toml").read_bytes().decode("utf-8")
    with _locked(path, hold=True) as target:
        if target.exists() and not force:
            raise error(
                "usage.invalid",
                f"{target} already exists; genctl config init does not overwrite it.",
                fix="Edit it, or replace it: genctl config init --force (or write elsewhere: --path FILE).",
            )
        _write(target, example)
    return target


def labels(path: Path, provider: str) -> list[str]:
    """The labels of the provider's keys in the file, as load_settings names them."""
    return [_label_of(entry, n) for n, entry in enumerate(_entries(read_config(path), provider), start=1)]


def add_key(
    path: Path, provider: str, secret: str, *, label: str | None, account: str | None, dry_run: bool = False
) -> Added:
    """Add `secret` to the provider's keys under `label` (default: the first free key-N); `dry_run` only
    says what would happen (to probe the key before taking the lock, which is never held while slow)."""
    with _locked(path, hold=not dry_run) as target:
        data = read_config(target)
        entries = _entries(data, provider)
        for number, entry in enumerate(entries, start=1):
            if _secret_of(entry) == secret:
                return Added(label=_label_of(entry, number), existing=_label_of(entry, number))
        taken = {_label_of(entry, number) for number, entry in enumerate(entries, start=1)}
        chosen = label or next(f"key-{n}" for n in range(1, len(entries) + 2) if f"key-{n}" not in taken)
        if chosen in taken:
            raise usage(
                f"{target} already has a {provider} key labelled {chosen!r}.", fix="Pick another --label."
            )
        if dry_run:
            return Added(label=chosen)
        entry = {"key": secret, "label": chosen, **({"account": account} if account else {})}
        expected = _with_entries(data, provider, [*entries, entry])
        old = _text(target)
        new = _append_table(old, provider, entry)
        if new is None or not _parses_to(new, expected):
            new = _tomlkit_edit(old, provider, append=entry)
        _write_checked(target, new, expected)
        return Added(label=chosen)


def remove_key(path: Path, provider: str, label: str, *, dry_run: bool = False) -> str:
    """Remove the provider's key labelled `label`; returns its secret (to forget its state). `dry_run`:
    only raise what removing it would (no such label), without waiting for the lock."""
    with _locked(path, hold=not dry_run) as target:
        data = read_config(target)
        entries = _entries(data, provider)
        found = [n for n, entry in enumerate(entries, start=1) if _label_of(entry, n) == label]
        if not found:
            names = ", ".join(_label_of(entry, n) for n, entry in enumerate(entries, start=1)) or "none"
            raise usage(
                f"{target} has no {provider} key labelled {label!r} (labels: {names}).",
                fix="genctl keys list",
            )
        index = found[0] - 1
        if dry_run:
            return _secret_of(entries[index])
        expected = _with_entries(data, provider, entries[:index] + entries[index + 1 :])
        old = _text(target)
        new = _cut_table(old, provider, index)
        if new is None or not _parses_to(new, expected):
            new = _tomlkit_edit(old, provider, remove=index)
        _write_checked(target, new, expected)
        return _secret_of(entries[index])


# -- the lock and the file ---------------------------------------------------------------------------------


def _target(path: Path) -> Path:
    target = Path(path).expanduser()
    # Replace the file a dotfiles symlink points at, not the link itself.
    return target.resolve() if target.is_symlink() else target


@contextmanager
def _locked(path: Path, *, hold: bool) -> Iterator[Path]:
    target = _target(path)
    if not hold:
        yield target
        return
    lock = target.parent / f".{target.name}.lock"
    with ExitStack() as stack:
        try:
            paths.ensure_private_dir(target.parent)
            stack.enter_context(filelock.held(lock, wait=LOCK_WAIT))
        except filelock.Busy as exc:
            why = "before --timeout ran out" if exc.by_deadline else f"for {LOCK_WAIT:g} s"
            raise error(
                "config.locked",
                f"Another genctl is editing {target}: it held {lock} {why}.",
                fix="Let the other `genctl keys` command finish, then run this one again.",
            ) from None
        except OSError as exc:
            raise _unwritable(target, exc) from exc
        yield target


def _text(target: Path) -> str:
    return target.read_text(encoding="utf-8") if target.exists() else ""


def _write_checked(target: Path, text: str, expected: Mapping[str, Any]) -> None:
    if not _parses_to(text, expected):  # never write a file that would not mean what we meant
        raise error(
            "config.invalid",
            f"cannot edit {target} without changing other settings",
            fix=f"Edit {target} by hand (example: `genctl config init`).",
        )
    _write(target, text)


def _write(target: Path, text: str) -> None:
    try:
        paths.write_private(target, text.encode("utf-8"))
    except OSError as exc:
        raise _unwritable(target, exc) from exc


def _unwritable(target: Path, exc: OSError) -> GenctlError:
    return error(
        "config.invalid",
        f"cannot write config file {target}: {exc.strerror or exc}",
        fix=f"Check that {target.parent} is a folder you can write to.",
    )


def _parses_to(text: str, expected: Mapping[str, Any]) -> bool:
    try:
        return _normal(tomllib.loads(text)) == _normal(expected)
    except tomllib.TOMLDecodeError:
        return False


def _normal(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` without empty key lists and the provider tables only they made: the same settings."""
    providers = data.get("providers")
    if not isinstance(providers, dict):
        return dict(data)
    kept = {}
    for name, table in providers.items():
        if isinstance(table, dict) and table.get("keys") == []:
            table = {k: v for k, v in table.items() if k != "keys"}
        if table != {}:
            kept[name] = table
    rest = {k: v for k, v in data.items() if k != "providers"}
    return {**rest, "providers": kept} if kept else rest


# -- the edits -------------------------------------------------------------------------------------------


def _tables(lines: list[str], *names: str, array: bool = True) -> list[tuple[int, int]]:
    """Each `[[names]]` table (`[names]` unless `array`) as (first line, end line): the header up to its
    last key line (the blank and comment lines before the next header belong to what follows)."""
    part = r'\s*"?{}"?\s*'
    dotted = r"\.".join(part.format(re.escape(name)) for name in names)
    header = re.compile(r"^\s*\[\[" + dotted + r"\]\]" if array else r"^\s*\[" + dotted + r"\](?!\])")
    spans: list[tuple[int, int]] = []
    for start, line in enumerate(lines):
        if header.match(line):
            end = next((n for n in range(start + 1, len(lines)) if _HEADER.match(lines[n])), len(lines))
            while end > start + 1 and _IDLE.match(lines[end - 1]):
                end -= 1
            spans.append((start, end))
    return spans


def _block(provider: str, entry: Mapping[str, Any]) -> list[str]:
    table = tomlkit.table()
    table.update(entry)
    return ["\n", f"[[providers.{provider}.keys]]\n", *tomlkit.dumps(table).splitlines(keepends=True)]


def _append_table(text: str, provider: str, entry: Mapping[str, Any]) -> str | None:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    spans = _tables(lines, "providers", provider, "keys") or _tables(
        lines, "providers", provider, array=False
    )
    at = spans[-1][1] if spans else len(lines)
    block = _block(provider, entry)
    if not lines:
        block = block[1:]  # a new file starts with its first table, not a blank line
    return "".join(lines[:at] + block + lines[at:])


def _cut_table(text: str, provider: str, index: int) -> str | None:
    lines = text.splitlines(keepends=True)
    spans = _tables(lines, "providers", provider, "keys")
    if index >= len(spans):
        return None  # the keys are (partly) an inline array
    start, end = spans[index]
    if start > 0 and not lines[start - 1].strip():
        start -= 1  # the blank line that separated it
    return "".join(lines[:start] + lines[end:])


def _tomlkit_edit(
    text: str, provider: str, *, append: Mapping[str, Any] | None = None, remove: int | None = None
) -> str:
    document = tomlkit.parse(text)
    providers = document.setdefault("providers", tomlkit.table(is_super_table=True))
    table = providers.setdefault(provider, tomlkit.table(is_super_table=True))
    keys = table.setdefault("keys", tomlkit.aot())
    if append is not None:
        item = tomlkit.inline_table() if isinstance(keys, Array) else tomlkit.table()
        item.update(append)
        keys.append(item)
    if remove is not None:
        del keys[remove]
    return document.as_string()


# -- the parsed view -------------------------------------------------------------------------------------


def _entries(data: Mapping[str, Any], provider: str) -> list[Any]:
    """The `[providers.X] keys` list of a parsed config (validated by load_settings when the file exists)."""
    providers = data.get("providers", {})
    table = providers.get(provider, {}) if isinstance(providers, dict) else {}
    entries = table.get("keys", []) if isinstance(table, dict) else []
    return list(entries) if isinstance(entries, list) else []


def _with_entries(data: Mapping[str, Any], provider: str, entries: list[Any]) -> dict[str, Any]:
    providers = dict(data.get("providers", {}))
    providers[provider] = {**providers.get(provider, {}), "keys": entries}
    return {**data, "providers": providers}


def _secret_of(entry: Any) -> str:
    raw = entry.get("key", "") if isinstance(entry, dict) else entry
    return clean_key(raw)[0] if isinstance(raw, str) else ""


def _label_of(entry: Any, number: int) -> str:
    label = entry.get("label") if isinstance(entry, dict) else None
    return label if isinstance(label, str) and label else f"config#{number}"  # as load_settings names it
