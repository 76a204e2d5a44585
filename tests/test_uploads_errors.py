"""An upload failure is an upload failure: fal's CDN refusing a file (a stale storage token, a multipart route
it lacks) ends with its own error, nothing submitted, and the API key's state untouched."""

from __future__ import annotations

import json
from pathlib import Path

import fal_client.client
import pytest

from genctl.sandbox import Fault, Sandbox
from tests.support import PNG, fal_env

MODEL = ("-m", "fal-ai/flux/dev/image-to-image")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[defaults]\nupload_threshold = 100\n")  # every -i file goes to fal storage
    return path


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG + b"\x00" * 4000)
    return path


def upload(genctl, sandbox: Sandbox, config: Path, cat: Path):  # type: ignore[no-untyped-def]
    return genctl(
        "--config",
        str(config),
        "generate",
        "make it blue",
        *MODEL,
        "-i",
        f"image_url={cat}",
        "--json",
        env=fal_env(sandbox),
    )


def key_states(genctl, sandbox: Sandbox) -> list[str]:  # type: ignore[no-untyped-def]
    run = genctl("keys", "status", "--provider", "fal", "--json", env=fal_env(sandbox))
    return [key["state"] for key in json.loads(run.stdout)["providers"]["fal"]["keys"]]


def test_a_401_from_the_cdn_is_an_upload_error_and_leaves_the_key_usable(
    genctl, sandbox: Sandbox, config: Path, cat: Path
) -> None:
    sandbox.inject(Fault.http(401, {"detail": "Token expired"}, provider="fal.cdn"))
    run = upload(genctl, sandbox, config, cat)
    assert run.exit_code == 7, run.stderr
    err = json.loads(run.stdout)["error"]
    assert err["code"] == "provider.unavailable"
    assert err["message"].startswith("fal storage refused the upload of cat.png (HTTP 401 from ")
    assert err["message"].endswith(': {"detail": "Token expired"}); nothing was submitted.')
    assert (
        err["fix"]
        == "Try again (the upload gets a fresh storage token), or pass the file as an https:// URL."
    )
    assert sandbox.count(method="POST", host="fal.queue") == 0
    assert key_states(genctl, sandbox) == ["usable"]
    sandbox.clear_faults()  # a fresh token next time: the same key uploads and submits
    again = upload(genctl, sandbox, config, cat)
    assert again.exit_code == 0, again.stderr


def test_a_404_from_the_multipart_route_is_an_upload_error_not_a_missing_model(
    genctl, sandbox: Sandbox, config: Path, cat: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_client.client, "MULTIPART_THRESHOLD", 1000)  # fal-client's 100 MB, made small
    sandbox.inject(Fault.http(404, {"detail": "Not Found"}, provider="fal.cdn", path=r"multipart"))
    run = upload(genctl, sandbox, config, cat)
    assert run.exit_code == 7, run.stderr
    err = json.loads(run.stdout)["error"]
    assert err["code"] == "provider.unavailable"
    assert err["message"].startswith("fal storage refused the upload of cat.png (HTTP 404 from ")
    assert "Did you mean" not in run.stdout + run.stderr
    assert sandbox.count(r"multipart", host="fal.cdn") >= 1  # the multipart route was the one tried
    assert sandbox.count(method="POST", host="fal.queue") == 0
    assert key_states(genctl, sandbox) == ["usable"]
