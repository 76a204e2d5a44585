"""`-i` files uploaded from disk as a stream (fal storage: one streamed POST, or multipart above fal-client's
threshold, with its fallback to initiate + PUT; Replicate files: a multipart POST read from the open file):
the bytes the sandbox stores are exactly the file's, compared by SHA-256, through the CLI. Files are a few MB
of random bytes made in tmp_path; the 200 MB case and its peak memory are benchmarks/upload_rss.py's."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import fal_client.client as fal_module
import httpx
import pytest

from genctl.providers import uploads
from genctl.sandbox import Sandbox
from genctl.sandbox.faults import Fault
from tests.support import REPLICATE_TOKEN_OK, fal_env, replicate_env

SIZE = 3 * 1024 * 1024 + 123  # not a whole number of blocks or parts


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[defaults]\nupload_threshold = 100\n")
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def generate_fal(genctl, sandbox: Sandbox, config: Path, big: Path) -> str:
    run = genctl(
        "--config",
        str(config),
        "generate",
        "make it blue",
        "-m",
        "fal-ai/flux/dev/image-to-image",
        "-i",
        f"image_url={big}",
        "--json",
        env=fal_env(sandbox),
    )
    assert run.exit_code == 0, run.stderr
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None
    url: str = job.input["image_url"]
    return url


def test_fal_upload_streams_one_post_and_the_bytes_arrive_intact(
    genctl, sandbox: Sandbox, config: Path, big: Path
) -> None:
    url = generate_fal(genctl, sandbox, config, big)
    assert url.startswith(sandbox.url + "/fal/cdn/files/")
    assert sha256(httpx.get(url).content) == sha256(big.read_bytes())
    assert sandbox.count(r"/files/upload$", method="POST", host="fal.cdn") == 1
    assert sandbox.count(r"/multipart", host="fal.cdn") == 0


def test_fal_upload_above_the_threshold_goes_in_parts_read_from_disk(
    genctl, sandbox: Sandbox, config: Path, big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_module, "MULTIPART_THRESHOLD", 1024 * 1024)
    monkeypatch.setattr(uploads, "FAL_PART_SIZE", 512 * 1024)
    url = generate_fal(genctl, sandbox, config, big)
    assert sha256(httpx.get(url).content) == sha256(big.read_bytes())
    assert sandbox.count(r"/files/upload/multipart$", method="POST") == 1
    assert sandbox.count(r"/multipart/[^/]+/\d+$", method="PUT") == 7  # 3 MB + 123 bytes in 512 KB parts
    assert sandbox.count(r"/complete$", method="POST") == 1


def test_a_retried_streamed_upload_sends_the_whole_file_again(
    genctl, sandbox: Sandbox, config: Path, big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_module, "_get_retry_delay", lambda *args: 0.0)  # fal-client's back-off: no wait
    sandbox.inject(Fault.http(429, provider="fal.cdn", method="POST", path=r"/files/upload$", times=1))
    url = generate_fal(genctl, sandbox, config, big)
    assert sha256(httpx.get(url).content) == sha256(big.read_bytes())
    assert sandbox.count(r"/files/upload$", method="POST", host="fal.cdn") == 2
    assert sandbox.count(r"/storage/upload/initiate$") == 0  # retried, not fallen back


def test_a_refused_cdn_upload_falls_back_to_initiate_and_put_like_fal_client(
    genctl, sandbox: Sandbox, config: Path, big: Path
) -> None:
    sandbox.inject(Fault.http(500, provider="fal.cdn", method="POST", path=r"/files/upload$"))
    url = generate_fal(genctl, sandbox, config, big)
    assert sha256(httpx.get(url).content) == sha256(big.read_bytes())
    assert sandbox.count(r"/storage/upload/initiate$", method="POST", host="fal.rest") == 1
    assert sandbox.count(r"/fal/cdn/upload/", method="PUT") == 1


def test_replicate_upload_streams_the_file_and_the_bytes_arrive_intact(
    genctl, sandbox: Sandbox, config: Path, big: Path
) -> None:
    run = genctl(
        "--config",
        str(config),
        "generate",
        "make it blue",
        "-m",
        "black-forest-labs/flux-dev",
        "-i",
        f"image={big}",
        "--json",
        env=replicate_env(sandbox),
    )
    assert run.exit_code == 0, run.stderr
    job = sandbox.job(json.loads(run.stdout)["request_id"])
    assert job is not None
    stored = httpx.get(job.input["image"], headers={"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}).json()
    assert stored["size"] == SIZE
    assert stored["checksums"]["sha256"] == sha256(big.read_bytes())
    assert stored["name"] == "big.bin"


def test_file_blocks_reads_a_range_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 10)
    monkeypatch.setattr(uploads, "STREAM_BLOCK", 100)
    blocks = list(uploads.file_blocks(path, start=250, length=1000))
    assert [len(b) for b in blocks] == [100] * 10
    assert b"".join(blocks) == path.read_bytes()[250:1250]
    assert b"".join(uploads.file_blocks(path)) == path.read_bytes()
    assert list(uploads.file_blocks(path, start=2560)) == []
