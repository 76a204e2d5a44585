"""`genctl config path` and `genctl config show`, and the settings helper other commands use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genctl.config import DEFAULT_URLS
from tests.config_support import FAL_SECRET, FAL_SECRET_2, REPLICATE_SECRET, assert_no_secret, write

pytestmark = pytest.mark.usefixtures("home")


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
        "ok": True,
        "config_file": str(home / "other.toml"),
        "exists": True,
        "state_dir": str(home / "state"),
        "cache_dir": str(home / "cache"),
    }
    code, stdout, _ = invoke("config", "path", env={"GENCTL_CONFIG": str(home / "x.toml")})
    assert stdout == f"{home / 'x.toml'}\n"


def table_rows(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines() if "\t" in line]


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
    assert ["keys", "fal", "env:FAL_KEY", "abcd…cdef", "FAL_KEY", ""] in rows
    assert ["keys", "fal", "ci-1", "wxyz…3210", str(config), "acme"] in rows
    assert ["keys", "replicate", "env:REPLICATE_API_TOKEN", "r8_A…6789", "REPLICATE_API_TOKEN", ""] in rows
    assert ["model defaults", 'models."fal-ai/flux/dev".num_inference_steps', "28", "file"] in rows
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
