"""Settings: malformed files, wrong types, unknown settings, permissions, write_config."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

import pytest

from genctl.config import load_settings
from genctl.config_edit import write_config
from genctl.errors import GenctlError
from genctl.settings import Settings
from tests.config_support import FAL_SECRET, REPLICATE_SECRET, assert_no_secret, load, write

pytestmark = pytest.mark.usefixtures("home")


def load_error(home: Path, text: str, **env: str) -> GenctlError:
    write(home / "config.toml", text)
    with pytest.raises(GenctlError) as caught:
        load(home, **env)
    assert caught.value.code == "config.invalid"
    assert caught.value.exit_code == 2
    assert caught.value.fix
    return caught.value


def labels(settings: Settings, provider: str) -> list[str]:
    return [key.label for key in settings.providers[provider].keys]


# -- errors and warnings --------------------------------------------------------------------------


def test_malformed_toml_names_file_line_and_column(home: Path) -> None:
    err = load_error(home, '[defaults]\nprovider = "fal"\noutput_dir = \n')
    assert err.message.startswith(f"{home / 'config.toml'}:3:")
    assert re.search(r"config\.toml:3:\d+: ", err.message)
    assert "line 3" in err.fix


def test_unquoted_model_id_is_a_position_error(home: Path) -> None:
    err = load_error(home, "\n[models.fal-ai/flux/dev]\nx = 1\n")
    assert "config.toml:2:" in err.message
    assert '[models."fal-ai/flux/dev"]' in err.fix


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[defaults]\ntimeout = "abc"\n', "[defaults] timeout"),
        ("[defaults]\ntimeout = -1\n", "[defaults] timeout"),
        ("[defaults]\nupload_threshold = 1.5\n", "[defaults] upload_threshold"),
        ("[defaults]\noutput_dir = 3\n", "[defaults] output_dir"),
        ('[defaults]\nprovider = "fla"\n', "did you mean fal?"),
        ("[defaults]\nimage_model = true\n", "[defaults] image_model"),
        ("[providers.fal]\nkeys = 5\n", "[providers.fal] keys"),
        ("[providers.fal]\nkeys = [5]\n", "[providers.fal] keys #1"),
        ('[providers.fal]\nkeys = [{ label = "x" }]\n', "[providers.fal] keys #1"),
        ('[providers.replicate]\nkeys = [{ key = "r8_x", label = 3 }]\n', "[providers.replicate] keys #1"),
        ('[providers.fal]\nqueue_url = "queue.fal.run"\n', "[providers.fal] queue_url"),
        ('[providers.replicate]\ntimeout = "30"\n', "[providers.replicate] timeout"),
        ("defaults = 5\n", "[defaults]"),
        ("[providers]\nfal = 1\n", "[providers.fal]"),
        ('[models]\n"fal-ai/flux/dev" = 28\n', '[models."fal-ai/flux/dev"]'),
    ],
)
def test_wrong_types_name_the_setting_and_file(home: Path, text: str, named: str) -> None:
    err = load_error(home, text)
    assert named in err.message
    assert str(home / "config.toml") in err.message


def test_a_misplaced_key_is_never_echoed(home: Path) -> None:
    err = load_error(home, f'[providers.fal]\nkeys = [{{ ky = "{FAL_SECRET}" }}]\n')
    assert_no_secret(err.message, err.fix)


def test_wrong_env_value_names_the_variable(home: Path) -> None:
    with pytest.raises(GenctlError) as caught:
        load(home, GENCTL_TIMEOUT="soon")
    assert caught.value.code == "config.invalid"
    assert caught.value.message == "GENCTL_TIMEOUT must be a number of seconds greater than 0, not 'soon'"
    with pytest.raises(GenctlError, match="GENCTL_PROVIDER"):
        load(home, GENCTL_PROVIDER="openai")


def test_unknown_sections_and_settings_warn_with_did_you_mean(home: Path) -> None:
    config = write(
        home / "config.toml",
        f"""
provider = "fal"

[defaults]
ouput_dir = "x"

[defualts]

[providers.fall]

[providers.fal]
queue_ur = "http://x"
keys = [{{ key = "{FAL_SECRET}", lable = "ci" }}]

[models."fal-ai/flux/dev"]
num_inference_steps = 28
""",
    )
    settings = load(home)
    assert list(settings.warnings) == [
        f"unknown setting provider in {config} — did you mean [defaults] provider?",
        f"unknown section [defualts] in {config} — did you mean [defaults]?",
        f"unknown setting [defaults] ouput_dir in {config} — did you mean output_dir?",
        f"unknown provider [providers.fall] in {config} — did you mean [providers.fal]?",
        f"unknown setting [providers.fal] queue_ur in {config} — did you mean queue_url?",
        f"unknown field lable in [providers.fal] keys #1 in {config} — did you mean label?",
    ]
    assert settings.output_dir == Path(".")
    assert settings.model_params == {"fal-ai/flux/dev": {"num_inference_steps": 28}}
    assert_no_secret(*settings.warnings)


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_config_holding_keys_readable_by_others_warns(home: Path) -> None:
    config = write(home / "config.toml", f'[providers.replicate]\nkeys = ["{REPLICATE_SECRET}"]\n', 0o644)
    [warning] = load(home).warnings
    assert warning.endswith(f"run chmod 600 {config}")
    assert_no_secret(warning)
    config.chmod(0o600)
    assert load(home).warnings == ()
    write(config, "[defaults]\ntimeout = 10\n", 0o644)
    assert load(home).warnings == ()  # no keys in it: nothing to protect


# -- write_config ---------------------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_write_config_is_private_from_the_first_byte(home: Path) -> None:
    target = home / "new" / "deeper" / "config.toml"
    data = {
        "defaults": {"provider": "fal", "timeout": 60.0},
        "providers": {"fal": {"keys": [{"key": FAL_SECRET, "label": "ci-1"}]}},
        "models": {"fal-ai/flux/dev": {"num_inference_steps": 28}},
    }
    old_umask = os.umask(0)  # the modes must not depend on a lenient umask
    try:
        write_config(target, data)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(target.parent.parent.stat().st_mode) == 0o700
    assert tomllib.loads(target.read_text(encoding="utf-8")) == data
    target.chmod(0o644)
    write_config(target, {**data, "defaults": {"provider": "replicate"}})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert read_back(target)["defaults"] == {"provider": "replicate"}
    assert sorted(p.name for p in target.parent.iterdir()) == ["config.toml"]  # no temp file left
    settings = load_settings(config_path=target, env={})
    assert (settings.warnings, labels(settings, "fal")) == ((), ["ci-1"])


def read_back(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text(encoding="utf-8"))
