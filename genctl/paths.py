"""Where config, state and cache live: platformdirs, or all three in one folder under GENCTL_HOME."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "genctl"
CONFIG_FILE_NAME = "config.toml"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def genctl_home(env: Mapping[str, str] | None = None) -> Path | None:
    """The folder named by GENCTL_HOME, or None when it is unset or empty."""
    value = _env(env).get("GENCTL_HOME", "").strip()
    return Path(value).expanduser() if value else None


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder of the default config file. Nothing is created: reading must not touch the disk."""
    home = genctl_home(env)
    if home is not None:
        return home
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Key-pool state and history: data the user would miss if it were deleted."""
    home = genctl_home(env)
    if home is not None:
        return home / "state"
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Model catalogues and other things that can be fetched again."""
    home = genctl_home(env)
    if home is not None:
        return home / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def default_config_file(env: Mapping[str, str] | None = None) -> Path:
    """`config.toml` in the config dir: used when neither --config nor GENCTL_CONFIG names a file."""
    return config_dir(env) / CONFIG_FILE_NAME


def resolve_config_file(
    *, config_path: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Path, str]:
    """The config file to read and who chose it: "flag" (--config), "env" (GENCTL_CONFIG) or "default"."""
    if config_path is not None:
        return Path(config_path).expanduser(), "flag"
    named = _env(env).get("GENCTL_CONFIG", "").strip()
    if named:
        return Path(named).expanduser(), "env"
    return default_config_file(env), "default"


def ensure_private_dir(folder: Path) -> None:
    """Create `folder` and any missing parents with mode 0700; existing folders are left as they are."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        # One by one: os.makedirs gives intermediate folders the default mode, not 0700.
        new.mkdir(mode=0o700, exist_ok=True)


def write_private(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` atomically with `data`, readable by the user only from the first byte (keys, state)."""
    ensure_private_dir(path.parent)
    replace_file(path, data, mode=0o600, durable=durable)


def replace_file(path: Path, data: bytes, *, mode: int, durable: bool = True) -> None:
    """Replace `path` atomically with `data`, with `mode` (less the umask); its folder must exist.

    The temp file has its final mode before any byte lands in it, and os.replace swaps it in whole: a crash
    never leaves a half-written file, a reader never sees half of one, and a private file is never readable
    by others, not even for a moment. `durable` syncs the data to disk before the swap (after a power cut
    the file is the old one or the new one); advisory state that is rewritten many times a second (the key
    rotation) skips it: a file lost to a power cut is read as empty, which such state tolerates.
    """
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.chmod(tmp, mode & ~umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def umask() -> int:
    """The process's umask (reading it means setting it: put it straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
