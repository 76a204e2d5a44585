"""Settings: where files live, precedence, keys from env and file, config.example.toml."""

from __future__ import annotations

import re
from pathlib import Path

import platformdirs
import pytest

from genctl import paths
from genctl.config import DEFAULT_URLS, DEFAULTS_SCHEMA, HISTORY_SCHEMA, PROVIDER_SCHEMA, load_settings
from genctl.cost import PRICE_FIELDS
from genctl.errors import GenctlError
from genctl.settings import Settings
from tests.config_support import (
    FAL_SECRET,
    FAL_SECRET_2,
    REPLICATE_SECRET,
    REPLICATE_SECRET_2,
    assert_no_secret,
    load,
    write,
)

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("home")


def labels(settings: Settings, provider: str) -> list[str]:
    return [key.label for key in settings.providers[provider].keys]


# -- where things live ----------------------------------------------------------------------------


def test_genctl_home_moves_config_state_and_cache(tmp_path: Path) -> None:
    env = {"GENCTL_HOME": str(tmp_path / "g")}
    assert paths.default_config_file(env) == tmp_path / "g" / "config.toml"
    assert paths.state_dir(env) == tmp_path / "g" / "state"
    assert paths.cache_dir(env) == tmp_path / "g" / "cache"
    assert not (tmp_path / "g").exists()  # reading creates nothing


def test_platform_dirs_without_genctl_home() -> None:
    assert paths.config_dir({}) == Path(platformdirs.user_config_dir("genctl", appauthor=False))
    assert paths.state_dir({}) == Path(platformdirs.user_state_dir("genctl", appauthor=False))
    assert paths.cache_dir({}) == Path(platformdirs.user_cache_dir("genctl", appauthor=False))


def test_no_config_file_gives_defaults(home: Path) -> None:
    settings = load(home)
    assert settings.config_file is None
    assert settings.provider is None
    assert settings.models == {}
    assert settings.output_dir == Path(".")
    assert settings.timeout is None
    assert settings.upload_threshold == 1_000_000
    assert settings.providers["fal"].urls == DEFAULT_URLS["fal"]
    assert settings.providers["replicate"].urls == {"api_url": "https://api.replicate.com/v1"}
    assert (settings.providers["fal"].timeout, settings.providers["fal"].connect_timeout) == (30.0, 10.0)
    assert settings.providers["fal"].keys == ()
    assert settings.warnings == ()
    assert set(settings.origins.values()) == {"default"}


# -- precedence -----------------------------------------------------------------------------------


def test_env_beats_file_beats_default(home: Path) -> None:
    write(
        home / "config.toml",
        """
[defaults]
provider = "replicate"
timeout = 120
output_dir = "from-file"
image_model = "fal-ai/flux/dev"

[providers.fal]
queue_url = "http://file.example/queue/"
api_url = "http://file.example/api"
timeout = 5

[providers.replicate]
connect_timeout = 2.5
""",
    )
    settings = load(
        home,
        GENCTL_PROVIDER="fal",
        GENCTL_TIMEOUT="30.5",
        GENCTL_FAL_QUEUE_URL="http://env.example/q//",
        GENCTL_REPLICATE_API_URL="http://env.example/r/",
    )
    fal, replicate = settings.providers["fal"], settings.providers["replicate"]
    assert settings.config_file == home / "config.toml"
    assert (settings.provider, settings.timeout, settings.output_dir) == ("fal", 30.5, Path("from-file"))
    assert settings.models == {"image": "fal-ai/flux/dev"}
    assert fal.urls == {
        "queue_url": "http://env.example/q",
        "run_url": "https://fal.run",
        "api_url": "http://file.example/api",
        "rest_url": "https://rest.fal.ai",
    }
    assert (fal.timeout, fal.connect_timeout, replicate.connect_timeout) == (5.0, 10.0, 2.5)
    assert replicate.urls == {"api_url": "http://env.example/r"}
    origins = settings.origins
    assert origins["defaults.provider"] == origins["defaults.timeout"] == "env"
    assert origins["defaults.output_dir"] == origins["defaults.image_model"] == "file"
    assert origins["providers.fal.queue_url"] == origins["providers.replicate.api_url"] == "env"
    assert origins["providers.fal.api_url"] == origins["providers.fal.timeout"] == "file"
    assert origins["providers.fal.run_url"] == origins["defaults.upload_threshold"] == "default"
    assert origins["config_file"] == "default"


def test_env_output_dir_and_all_url_variables(home: Path) -> None:
    env = {var: f"http://{var.lower()}.test/" for var in ("GENCTL_FAL_RUN_URL", "GENCTL_FAL_REST_URL")}
    settings = load(home, GENCTL_OUTPUT_DIR="~/out", **env)
    assert settings.output_dir == Path("~/out").expanduser()
    assert settings.providers["fal"].urls["run_url"] == "http://genctl_fal_run_url.test"
    assert settings.providers["fal"].urls["rest_url"] == "http://genctl_fal_rest_url.test"


def test_config_flag_beats_genctl_config_beats_default_file(home: Path) -> None:
    default = write(home / "config.toml", '[defaults]\noutput_dir = "default"\n')
    named = write(home / "named.toml", '[defaults]\noutput_dir = "named"\n')
    flagged = write(home / "flagged.toml", '[defaults]\noutput_dir = "flagged"\n')
    env = {"GENCTL_HOME": str(home)}
    assert load_settings(env=env).output_dir == Path("default")
    assert load_settings(env=env).config_file == default
    by_env = load_settings(env={**env, "GENCTL_CONFIG": str(named)})
    assert (by_env.output_dir, by_env.origins["config_file"]) == (Path("named"), "env")
    by_flag = load_settings(config_path=flagged, env={**env, "GENCTL_CONFIG": str(named)})
    assert (by_flag.output_dir, by_flag.origins["config_file"]) == (Path("flagged"), "flag")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_missing_named_config_file_is_an_error(home: Path, how: str) -> None:
    missing = home / "nope.toml"
    with pytest.raises(GenctlError) as caught:
        if how == "flag":
            load_settings(config_path=missing, env={"GENCTL_HOME": str(home)})
        else:
            load(home, GENCTL_CONFIG=str(missing))
    assert caught.value.code == "config.invalid"
    assert caught.value.exit_code == 2
    assert str(missing) in caught.value.message
    assert ("--config" if how == "flag" else "GENCTL_CONFIG") in caught.value.message


# -- keys -----------------------------------------------------------------------------------------


def test_keys_from_every_env_variable_in_order(home: Path) -> None:
    settings = load(
        home,
        FAL_KEY=f"{FAL_SECRET},{FAL_SECRET_2}",
        FAL_API_KEY="id3-aaaa-bbbb:ccccccccdddddddd",
        FAL_KEY_ID="id4-aaaa-bbbb",
        FAL_KEY_SECRET="eeeeeeeeffffffff",
        REPLICATE_API_TOKEN=f"{REPLICATE_SECRET}, {REPLICATE_SECRET_2}",
    )
    fal = settings.providers["fal"].keys
    assert [k.label for k in fal] == ["env:FAL_KEY", "env:FAL_KEY#2", "env:FAL_API_KEY", "env:FAL_KEY_ID"]
    assert [k.source for k in fal] == ["FAL_KEY", "FAL_KEY", "FAL_API_KEY", "FAL_KEY_ID+FAL_KEY_SECRET"]
    assert [k.reveal() for k in fal] == [
        FAL_SECRET,
        FAL_SECRET_2,
        "id3-aaaa-bbbb:ccccccccdddddddd",
        "id4-aaaa-bbbb:eeeeeeeeffffffff",
    ]
    replicate = settings.providers["replicate"].keys
    assert [(k.label, k.source, k.reveal()) for k in replicate] == [
        ("env:REPLICATE_API_TOKEN", "REPLICATE_API_TOKEN", REPLICATE_SECRET),
        ("env:REPLICATE_API_TOKEN#2", "REPLICATE_API_TOKEN", REPLICATE_SECRET_2),
    ]
    # A space after a comma is how people write lists, not a pasting accident worth a warning.
    assert settings.warnings == ()


def test_quotes_around_a_whole_list_are_removed(home: Path) -> None:
    settings = load(home, FAL_KEY=f'"{FAL_SECRET},{FAL_SECRET_2}"\n')
    assert [k.reveal() for k in settings.providers["fal"].keys] == [FAL_SECRET, FAL_SECRET_2]
    assert settings.warnings == (
        "FAL_KEY (the whole list): removed surrounding whitespace or a newline and surrounding quotes "
        "from the key — providers reject it (401)",
    )


def test_pasted_key_is_cleaned_with_a_warning_that_hides_it(home: Path) -> None:
    raw = f' "{FAL_SECRET}"\n'
    settings = load(home, FAL_KEY=raw, REPLICATE_API_TOKEN=f"{REPLICATE_SECRET},'{REPLICATE_SECRET_2}'")
    [fal] = settings.providers["fal"].keys
    assert fal.reveal() == FAL_SECRET
    [warning, replicate_warning] = settings.warnings
    assert warning == (
        f"FAL_KEY ({fal.masked}): removed surrounding whitespace or a newline and surrounding quotes "
        "from the key — providers reject it (401)"
    )
    assert fal.masked == "abcd…cdef"
    assert replicate_warning.startswith("REPLICATE_API_TOKEN entry 2 (r8_Z…3210): removed surrounding quotes")
    assert raw not in warning
    assert_no_secret(*settings.warnings)


def test_fal_key_id_without_secret_warns(home: Path) -> None:
    settings = load(home, FAL_KEY_ID="id4-aaaa-bbbb")
    assert settings.providers["fal"].keys == ()
    [warning] = settings.warnings
    assert warning.startswith("FAL_KEY_ID is set but FAL_KEY_SECRET is not")
    settings = load(home, FAL_KEY_SECRET="eeeeeeeeffffffff")
    [warning] = settings.warnings
    assert warning.startswith("FAL_KEY_SECRET is set but FAL_KEY_ID is not")
    assert "eeeeeeeeffffffff" not in warning


def test_fal_key_id_and_secret_cleaned(home: Path) -> None:
    settings = load(home, FAL_KEY_ID="'id4-aaaa-bbbb'", FAL_KEY_SECRET="eeeeeeeeffffffff\n")
    [key] = settings.providers["fal"].keys
    assert key.reveal() == "id4-aaaa-bbbb:eeeeeeeeffffffff"
    assert [w.split(" (")[0] for w in settings.warnings] == ["FAL_KEY_ID", "FAL_KEY_SECRET"]
    assert all("eeeeeeeeffffffff" not in w for w in settings.warnings)


def test_config_keys_as_strings_and_tables(home: Path) -> None:
    config = write(
        home / "config.toml",
        f"""
[providers.fal]
keys = ["{FAL_SECRET}", {{ key = "{FAL_SECRET_2}", label = "ci-1", account = "acme" }}]

[[providers.replicate.keys]]
key = "{REPLICATE_SECRET}"
account = "acme"
""",
    )
    settings = load(home)
    fal = settings.providers["fal"].keys
    assert [(k.label, k.source, k.account, k.reveal()) for k in fal] == [
        ("config#1", str(config), None, FAL_SECRET),
        ("ci-1", str(config), "acme", FAL_SECRET_2),
    ]
    [replicate] = settings.providers["replicate"].keys
    assert (replicate.label, replicate.account) == ("config#1", "acme")
    assert settings.warnings == ()


def test_env_keys_come_first_and_duplicates_merge(home: Path) -> None:
    write(
        home / "config.toml",
        f"""
[providers.fal]
keys = [{{ key = "{FAL_SECRET}", label = "mine", account = "acme" }}, "{FAL_SECRET_2}", " {FAL_SECRET_2} "]
""",
    )
    settings = load(home, FAL_KEY=f"{FAL_SECRET},{FAL_SECRET}", FAL_API_KEY=FAL_SECRET)
    fal = settings.providers["fal"].keys
    assert [(k.label, k.account, k.reveal()) for k in fal] == [
        ("env:FAL_KEY", "acme", FAL_SECRET),
        ("config#2", None, FAL_SECRET_2),
    ]
    assert_no_secret(*settings.warnings)


# -- config.example.toml --------------------------------------------------------------------------


def test_example_config_loads_cleanly() -> None:
    settings = load_settings(config_path=ROOT / "config.example.toml", env={})
    assert settings.warnings == ()
    assert settings.providers["fal"].urls == DEFAULT_URLS["fal"]
    assert settings.output_dir == Path(".")


def test_example_config_documents_every_setting_and_uncommented_still_loads(home: Path) -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    found: set[str] = set()
    section = ""
    for line in text.splitlines():
        if header := re.match(r"#? ?\[([^\]]+)\]$", line):
            section = header.group(1)
        elif setting := re.match(r"#? ?([a-z_]+) = ", line):
            found.add(f"{section}.{setting.group(1)}")
    expected = {f"defaults.{name}" for name in DEFAULTS_SCHEMA}
    expected |= {f"history.{name}" for name in HISTORY_SCHEMA}
    expected |= {f"providers.{p}.{name}" for p, names in PROVIDER_SCHEMA.items() for name in names}
    expected |= {'models."fal-ai/flux/dev".num_inference_steps', 'models."fal-ai/flux/dev".guidance_scale'}
    expected |= {'aliases."my-flux".fal', 'aliases."my-flux".replicate'}
    expected |= {f'prices."black-forest-labs/flux-schnell".{name}' for name in PRICE_FIELDS}
    assert found == expected
    # Every commented-out example is valid too.
    uncommented = re.sub(r"^# ?((?:[a-z_]+ = |\[).*)$", r"\1", text, flags=re.MULTILINE)
    config = write(home / "full.toml", uncommented)
    settings = load_settings(config_path=config, env={})
    assert settings.warnings == ()
    assert settings.provider == "fal"
    assert set(settings.models) == {"image", "video", "audio"}
    assert labels(settings, "fal") == ["config#1", "ci-1"]
    assert settings.model_params == {"fal-ai/flux/dev": {"num_inference_steps": 28, "guidance_scale": 3.5}}
