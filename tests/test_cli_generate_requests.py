"""What `genctl generate` sends: --dry-run shows the request -i files really make, an empty prompt is refused
the same way from argv and stdin, and a text-to-speech model gets PROMPT in its text field."""

from __future__ import annotations

import base64
import json
import shlex
from pathlib import Path

import pytest

from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_OK

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
I2I = ("-m", "fal-ai/flux/dev/image-to-image")


def _body(curl: str) -> dict[str, object]:
    words = shlex.split(curl)
    return json.loads(words[words.index("--data-raw") + 1])


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    return path


def test_dry_run_shows_a_small_file_as_the_data_uri_that_is_sent(genctl, cat: Path) -> None:
    run = genctl(
        "generate", "make it blue", *I2I, "-i", f"image_url={cat}", "--dry-run", env={"FAL_KEY": FAL_KEY_OK}
    )

    assert run.exit_code == 0, run.stderr
    sent = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert _body(run.stdout) == {"prompt": "make it blue", "image_url": sent}


def test_dry_run_shows_a_placeholder_for_an_upload_and_says_so(genctl, cat: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[defaults]\nupload_threshold = 10\n")
    run = genctl(
        "--config", str(config), "generate", "make it blue", *I2I, "-i", f"image_url={cat}", "--dry-run",
        env={"FAL_KEY": FAL_KEY_OK},
    )  # fmt: skip

    assert run.exit_code == 0, run.stderr
    assert _body(run.stdout)["image_url"] == "<URL of cat.png once uploaded to fal.ai storage>"
    assert run.stderr.splitlines()[-1] == (
        f"-i image_url={cat}: a {len(PNG)}-byte file is uploaded to fal.ai storage before the submit; "
        "a dry run uploads nothing, so image_url shows a placeholder for its URL."
    )


def test_dry_run_of_a_missing_file_is_the_same_error_as_a_run(genctl, tmp_path: Path) -> None:
    run = genctl("generate", "x", *I2I, "-i", "image_url=nope.png", "--dry-run", env={"FAL_KEY": FAL_KEY_OK})

    assert run.exit_code == 2
    assert run.stderr.splitlines()[-2] == "Error [usage.invalid]: Input file 'nope.png' does not exist."


FIX = 'Fix: Give the prompt in words: genctl generate "a fox", or echo "a fox" | genctl generate -'


@pytest.mark.parametrize("prompt", ["", "   "])
def test_an_empty_prompt_is_refused_before_anything_is_sent(genctl, sandbox: Sandbox, prompt: str) -> None:
    run = genctl("generate", prompt, "-m", "fal-ai/flux/dev", env={**sandbox.env(), "FAL_KEY": FAL_KEY_OK})

    assert run.exit_code == 2
    assert run.stderr.splitlines() == ["Error [usage.invalid]: The prompt is empty.", FIX]
    assert sandbox.requests == []


def test_an_empty_stdin_prompt_is_the_same_error(genctl) -> None:
    run = genctl("generate", "-", "-m", "fal-ai/flux/dev", input="\n")

    assert run.exit_code == 2
    assert run.stderr.splitlines() == [
        "Error [usage.invalid]: The prompt is empty (nothing was read from stdin).",
        FIX,
    ]


TTS = "fal-ai/elevenlabs/tts/multilingual-v2"


def test_a_tts_model_gets_the_prompt_in_its_text_field(genctl, sandbox: Sandbox) -> None:
    run = genctl("generate", "Hello there", "-m", TTS, "--json", env={**sandbox.env(), "FAL_KEY": FAL_KEY_OK})

    assert run.exit_code == 0, run.stderr
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None
    assert job.input == {"text": "Hello there"}


def test_a_tts_text_given_with_p_wins_and_the_prompt_is_then_unknown(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": FAL_KEY_OK}
    run = genctl("generate", "Hello", "-m", TTS, "-p", "text=Bye", env=env)

    assert run.exit_code == 5
    assert "unknown parameter prompt" in run.stderr.splitlines()[0]
