"""Local input files (`-i`), never overwriting outputs, and `genctl sandbox serve`, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from genctl.download import save_output
from genctl.providers.base import Output
from genctl.sandbox import Sandbox
from tests.support import PNG, fal_env, replicate_env


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG + b"\x00" * 2000)
    return path


def test_small_input_file_goes_inline_as_data_uri(genctl, sandbox: Sandbox, cat: Path) -> None:
    run = genctl(
        "generate",
        "make it blue",
        "-m",
        "fal-ai/flux/dev/image-to-image",
        "-i",
        f"image_url={cat}",
        "--json",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 0, run.stderr
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None
    assert job.input["image_url"].startswith("data:image/png;base64,")
    assert sandbox.count(host="fal.rest") == sandbox.count(host="fal.cdn") == 0


def test_large_input_file_is_uploaded_to_fal_storage(
    genctl, sandbox: Sandbox, cat: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[defaults]\nupload_threshold = 100\n")
    run = genctl(
        "--config",
        str(config),
        "generate",
        "make it blue",
        "-m",
        "fal-ai/flux/dev/image-to-image",
        "-i",
        f"image_url={cat}",
        "--json",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 0, run.stderr
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None
    uploaded = job.input["image_url"]
    assert uploaded.startswith(sandbox.url + "/fal/cdn/")
    assert httpx.get(uploaded).content == cat.read_bytes()


def test_large_input_file_is_uploaded_to_replicate_files(
    genctl, sandbox: Sandbox, cat: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[defaults]\nupload_threshold = 100\n")
    run = genctl(
        "--config",
        str(config),
        "generate",
        "make it blue",
        "-m",
        "black-forest-labs/flux-dev",
        "-i",
        f"image={cat}",
        "--json",
        env=replicate_env(sandbox),
    )
    assert run.exit_code == 0, run.stderr
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None
    assert job.input["image"].startswith(sandbox.url + "/replicate/v1/files/")
    assert sandbox.count(r"/replicate/v1/files$", method="POST") == 1


def test_missing_input_file_is_a_usage_error_and_nothing_is_sent(genctl, sandbox: Sandbox) -> None:
    run = genctl(
        "generate",
        "x",
        "-m",
        "fal-ai/flux/dev/image-to-image",
        "-i",
        "image_url=./nope.png",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 2
    assert "nope.png" in run.stderr
    assert sandbox.count(method="POST") == 0


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    output = Output(url="data:image/png;base64,iVBORw0KGgo=", content_type="image/png")
    taken = tmp_path / "fal-ai-flux-dev-abcdef12-1.png"
    taken.write_bytes(b"precious")
    with httpx.Client() as client:
        saved = save_output(
            client, output, dest_dir=tmp_path, model="fal-ai/flux/dev", request_id="abcdef1234", index=1
        )
    assert taken.read_bytes() == b"precious"
    assert saved.path == tmp_path / "fal-ai-flux-dev-abcdef12-1-2.png"
    assert saved.path.read_bytes() == PNG
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_sandbox_serve_prints_exports_that_work(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "genctl", "sandbox", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        exports: dict[str, str] = {}
        while "REPLICATE_API_TOKEN" not in exports:
            line = proc.stdout.readline()
            assert line.startswith("export "), line
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = value.strip("'")
        assert set(exports) >= {"GENCTL_FAL_QUEUE_URL", "GENCTL_REPLICATE_API_URL", "FAL_KEY"}
        run = subprocess.run(
            [sys.executable, "-m", "genctl", "generate", "a fox", "--json"],
            env={**os.environ, **exports},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["outputs"][0]["path"].endswith(".png")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # also closes the pipes
