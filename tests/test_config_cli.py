"""`genctl config path` and `genctl config show`, and the settings helper other commands use."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genctl.config import DEFAULT_URLS

FAL_SECRET = "abcd1234-ef56-7890:0123456789abcdef0123456789abcdef"
FAL_SECRET_2 = "wxyz9876-ab12-3456:fedcba9876543210fedcba9876543210"
REPLICATE_SECRET = "r8_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
REPLICATE_SECRET_2 = "r8_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210"
SECRETS = (FAL_SECRET, FAL_SECRET_2, REPLICATE_SECRET, REPLICATE_SECRET_2)


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No stray keys or config from this machine: GENCTL_HOME is tmp_path, no colour."""
    for name in list(os.environ):
        if name.upper().startswith(("FAL_", "REPLICATE_", "GENCTL_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GENCTL_HOME", str(tmp_path))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    from genctl.cli import common

    monkeypatch.setattr(common.options, "config_path", None)
    yield tmp_path


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
            assert secret.rpartition(":")[2] not in text


def invoke(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    from genctl.cli import app

    result = CliRunner().invoke(app, list(args), env=dict(env or {}), catch_exceptions=False)
    assert_no_secret(result.stdout, result.stderr)
    return result.exit_code, result.stdout, result.stderr


def test_config_path_text_and_json(home: Path) -> None:
    code, stdout, stderr = invoke("config", "path")
    assert (code, stdout) == (0, f"{home / 'config.toml'}\n")
    assert "does not exist" in stderr
    write(home / "other.toml", "")
    code, stdout, _ = invoke("--config", str(home / "other.toml"), "config", "path", "--json")
    assert json.loads(stdout) == {
        "config_file": str(home / "other.toml"),
        "exists": True,
        "state_dir": str(home / "state"),
        "cache_dir": str(home / "cache"),
    }
    code, stdout, _ = invoke("config", "path", env={"GENCTL_CONFIG": str(home / "x.toml")})
    assert stdout == f"{home / 'x.toml'}\n"


def table_rows(stdout: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")] for line in stdout.splitlines() if "│" in line]


def test_config_show_masks_keys_and_names_origins(home: Path) -> None:
    config = write(
        home / "config.toml",
        f"""
[defaults]
timeout = 90
ouput_dir = "typo"

[providers.fal]
keys = [{{ key = "{FAL_SECRET_2}", label = "ci-1", account = "acme" }}]

[models."fal-ai/flux/dev"]
num_inference_steps = 28
""",
    )
    env = {
        "FAL_KEY": f" {FAL_SECRET}",
        "REPLICATE_API_TOKEN": REPLICATE_SECRET,
        "GENCTL_PROVIDER": "replicate",
    }
    code, stdout, stderr = invoke("config", "show", env=env)
    assert code == 0
    rows = table_rows(stdout)
    assert ["config_file", str(config), "default"] in rows
    assert ["defaults.provider", "replicate", "env GENCTL_PROVIDER"] in rows
    assert ["defaults.timeout", "90.0", "file"] in rows
    assert ["defaults.image_model", "(none)", "default"] in rows
    assert ["providers.fal.queue_url", "https://queue.fal.run", "default"] in rows
    assert ["fal", "env:FAL_KEY", "abcd…cdef", "FAL_KEY", ""] in rows
    assert ["fal", "ci-1", "wxyz…3210", str(config), "acme"] in rows
    assert ["replicate", "env:REPLICATE_API_TOKEN", "r8_A…6789", "REPLICATE_API_TOKEN", ""] in rows
    assert ['models."fal-ai/flux/dev".num_inference_steps', "28", "file"] in rows
    assert "Warning: FAL_KEY (abcd…cdef): removed surrounding whitespace" in stderr
    assert "did you mean output_dir?" in stderr

    code, stdout, stderr = invoke("config", "show", "--json", env=env)
    data = json.loads(stdout)
    assert data["config_file"] == {"value": str(config), "exists": True, "origin": "default"}
    assert data["defaults"]["provider"] == {"value": "replicate", "origin": "env"}
    assert data["defaults"]["timeout"] == {"value": 90.0, "origin": "file"}
    assert data["defaults"]["image_model"] == {"value": None, "origin": "default"}
    assert data["providers"]["replicate"]["api_url"] == {
        "value": DEFAULT_URLS["replicate"]["api_url"],
        "origin": "default",
    }
    assert data["providers"]["fal"]["keys"] == [
        {
            "label": "env:FAL_KEY",
            "masked": "abcd…cdef",
            "source": "FAL_KEY",
            "account": None,
            "origin": "env",
        },
        {"label": "ci-1", "masked": "wxyz…3210", "source": str(config), "account": "acme", "origin": "file"},
    ]
    assert data["providers"]["replicate"]["keys"][0]["masked"] == "r8_A…6789"
    assert data["models"] == {"fal-ai/flux/dev": {"num_inference_steps": 28}}
    assert len(data["warnings"]) == 2
    assert stderr.count("Warning:") == 2


def test_config_errors_exit_2_with_json_error(home: Path) -> None:
    code, stdout, stderr = invoke("--config", str(home / "missing.toml"), "config", "show", "--json")
    assert code == 2
    assert json.loads(stdout)["error"]["code"] == "config.invalid"
    assert f"Error [config.invalid]: config file {home / 'missing.toml'}" in stderr
    write(home / "config.toml", "[defaults]\n\ntimeout = = 3\n")
    code, stdout, stderr = invoke("config", "show")
    assert (code, stdout) == (2, "")
    assert f"{home / 'config.toml'}:3:" in stderr


def test_settings_for_cli_warns_once_per_invocation(home: Path) -> None:
    import typer

    from genctl.cli.config import settings_for_cli

    write(home / "config.toml", "[defaults]\nouput_dir = 1\n")
    probe = typer.Typer()

    @probe.command()
    def twice() -> None:
        assert settings_for_cli() is settings_for_cli()

    for _ in range(2):
        result = CliRunner().invoke(probe, [], catch_exceptions=False)
        assert result.exit_code == 0
        assert result.stderr.count("Warning: unknown setting [defaults] ouput_dir") == 1
