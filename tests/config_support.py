"""What the config tests share: known secrets to grep for, and helpers to write and load config files."""

from __future__ import annotations

from pathlib import Path

from genctl.config import load_settings
from genctl.settings import Settings

FAL_SECRET = "abcd1234-ef56-7890:0123456789abcdef0123456789abcdef"
FAL_SECRET_2 = "wxyz9876-ab12-3456:fedcba9876543210fedcba9876543210"
REPLICATE_SECRET = "r8_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
REPLICATE_SECRET_2 = "r8_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210"
SECRETS = (FAL_SECRET, FAL_SECRET_2, REPLICATE_SECRET, REPLICATE_SECRET_2)


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def load(home: Path, **env: str) -> Settings:
    return load_settings(env={"GENCTL_HOME": str(home), **env})


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
            assert secret.rpartition(":")[2] not in text
