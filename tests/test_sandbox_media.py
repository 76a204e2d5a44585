"""Generated outputs are real files: valid PNG/WAV/MP4, deterministic; big ones stream without buffering."""

from __future__ import annotations

import io
import struct
import tracemalloc
import wave
import zlib
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genctl.sandbox import Fault, Sandbox, media
from genctl.sandbox.keys import FAL_KEY_OK

AUTH = {"Authorization": f"Key {FAL_KEY_OK}"}


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        yield client


def parse_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Walk every chunk, check every CRC, inflate IDAT; return (width, height, raw rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds, idat = 8, [], b""
    width = height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, payload = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + payload) == crc, kind
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", payload[:10])
            assert (depth, colour) == (8, 2)
        elif kind == b"IDAT":
            idat += payload
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and pos == len(data)
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    assert len(raw) == height * stride
    rows = [raw[i : i + stride] for i in range(0, len(raw), stride)]
    assert all(row[0] == 0 for row in rows)
    return width, height, rows


def run_fal(http: httpx.Client, endpoint: str, payload: dict[str, object]) -> dict[str, object]:
    r = http.post(f"/fal/run/{endpoint}", json=payload, headers=AUTH)
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result


def image_bytes(http: httpx.Client, payload: dict[str, object]) -> list[bytes]:
    result = run_fal(http, "fal-ai/flux/dev", payload)
    images = result["images"]
    assert isinstance(images, list)
    return [http.get(image["url"]).content for image in images]


def test_png_is_valid_and_sized_from_the_request(http: httpx.Client) -> None:
    [data] = image_bytes(http, {"prompt": "a red barn", "image_size": "portrait_16_9", "seed": 3})
    width, height, rows = parse_png(data)
    assert (width, height) == (576, 1024)
    assert len(set(rows)) > 100  # a real pattern, not a flat fill


def test_same_prompt_and_seed_give_identical_bytes(http: httpx.Client) -> None:
    first = image_bytes(http, {"prompt": "a red barn", "seed": 11})
    assert image_bytes(http, {"prompt": "a red barn", "seed": 11}) == first
    assert image_bytes(http, {"prompt": "a red barn", "seed": 12}) != first
    assert image_bytes(http, {"prompt": "a blue barn", "seed": 11}) != first
    many = image_bytes(http, {"prompt": "a red barn", "seed": 11, "num_images": 3})
    assert len(set(many)) == 3 and many[0] == first[0]


@given(st.binary(max_size=300), st.binary(max_size=3000))
def test_adler32_of_joined_bytes_comes_from_the_parts(first: bytes, second: bytes) -> None:
    combined = media._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)


@pytest.mark.parametrize(("width", "height"), [(1, 1), (7, 3), (5, 8), (512, 17), (1024, 768)])
def test_a_png_is_its_keys_rows_then_the_rows_its_size_shares(width: int, height: int) -> None:
    own = max(1, height // 8)
    first, second = (
        parse_png(media.png_bytes(width, height, b"one")),
        parse_png(media.png_bytes(width, height, b"two")),
    )
    assert first[:2] == second[:2] == (width, height)  # every CRC, the inflate and its Adler-32 checked
    assert first[2][:own] != second[2][:own]
    assert first[2][own:] == second[2][own:]


def test_a_png_with_no_rows_is_still_a_png() -> None:
    assert parse_png(media.png_bytes(3, 0, b"empty")) == (3, 0, [])


def test_a_megapixel_png_decodes_whole() -> None:
    """How fast the fake draws is measured by benchmarks/sandbox_media.py, not asserted here."""
    width, height, rows = parse_png(media.png_bytes(1024, 1024, b"speed"))
    assert (width, height, len(rows)) == (1024, 1024, 1024)


def test_wav_and_mp4_outputs(http: httpx.Client) -> None:
    audio = run_fal(http, "fal-ai/stable-audio", {"prompt": "rain", "seconds_total": 2})["audio_file"]
    assert isinstance(audio, dict) and audio["content_type"] == "audio/wav"
    body = http.get(audio["url"])
    assert int(body.headers["content-length"]) == audio["file_size"] == len(body.content)
    with wave.open(io.BytesIO(body.content)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getnframes()) == (2, 44100, 88200)

    video = run_fal(http, "fal-ai/kling-video/v2.1/master/text-to-video", {"prompt": "waves"})["video"]
    assert isinstance(video, dict) and (video["content_type"], video["file_name"]) == (
        "video/mp4",
        "output.mp4",
    )
    data = http.get(video["url"]).content
    assert len(data) == video["file_size"]
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        boxes.append(kind)
        pos += size
    assert boxes == [b"ftyp", b"moov", b"mdat"] and pos == len(data)


def test_big_png_is_exact_size_and_valid() -> None:
    length, chunks = media.png_stream(3 * 1024 * 1024 + 7, b"big")
    data = b"".join(chunks)
    assert length == len(data) == 3 * 1024 * 1024 + 7
    width, height, _ = parse_png(data)
    assert width == 1024 and height > 900


def test_big_output_streams_50_mb_without_buffering(sandbox: Sandbox, http: httpx.Client) -> None:
    size = 50 * 1024 * 1024
    result = run_fal(http, "fal-ai/flux/dev", {"prompt": f"huge [sandbox:big={size}]"})
    images = result["images"]
    assert isinstance(images, list)
    url = images[0]["url"]
    tracemalloc.start()
    total = 0
    try:
        with http.stream("GET", url) as response:
            assert response.headers["content-length"] == str(size)
            assert response.headers["content-type"] == "image/png"
            for chunk in response.iter_raw():
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 16 * 1024 * 1024  # server and client together never hold the 50 MB


def test_big_video_reports_its_size(http: httpx.Client) -> None:
    video = run_fal(http, "fal-ai/minimax/video-01", {"prompt": "x [sandbox:big=5000000]"})["video"]
    assert isinstance(video, dict) and video["file_size"] == 5_000_000
    response = http.head(video["url"])
    assert response.headers["content-length"] == "5000000" and response.content == b""


def test_drop_mid_body_sends_full_length_then_cuts(sandbox: Sandbox, http: httpx.Client) -> None:
    images = run_fal(http, "fal-ai/flux/dev", {"prompt": "x"})["images"]
    assert isinstance(images, list)
    url = images[0]["url"]
    expected = len(http.get(url).content)
    sandbox.inject(Fault.drop_mid_body(after_bytes=1000, provider="media", times=1))
    received = 0
    with pytest.raises(httpx.RemoteProtocolError), http.stream("GET", url) as response:
        assert response.headers["content-length"] == str(expected)
        for chunk in response.iter_raw():
            received += len(chunk)
    assert received == 1000
    assert len(http.get(url).content) == expected  # `times=1`: the next download is whole
