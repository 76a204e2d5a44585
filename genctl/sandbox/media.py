"""Real, valid output files (PNG, WAV, MP4) built with stdlib only, deterministic from a seed key."""

from __future__ import annotations

import array
import hashlib
import io
import math
import struct
import wave
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["png", "wav", "mp4", "blob"]
CHUNK = 1024 * 1024  # streamed bodies are produced and sent 1 MiB at a time
CONTENT_TYPES: dict[str, str] = {"png": "image/png", "wav": "audio/wav", "mp4": "video/mp4"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_BIG_PNG = 4096  # the smallest "big" PNG we can pad to an exact size


@dataclass(frozen=True)
class MediaSpec:
    """Everything needed to regenerate a file on demand; bytes are never stored for generated media."""

    kind: MediaKind
    filename: str
    key: bytes  # the seed material: same key, same bytes
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    channels: int = 1
    sample_rate: int = 22050
    big: int | None = None  # exact size in bytes for the streamed "big output" mode
    data: bytes | None = None  # uploaded files only
    content_type_override: str | None = None

    @property
    def content_type(self) -> str:
        if self.content_type_override:
            return self.content_type_override
        return CONTENT_TYPES.get(self.kind, "application/octet-stream")


def render(spec: MediaSpec) -> tuple[int, Iterator[bytes]]:
    """Return (exact length, body chunks). Big outputs are generated lazily and never held whole."""
    if spec.data is not None:
        return len(spec.data), _chunks(spec.data)
    if spec.big is not None:
        if spec.kind == "png":
            return png_stream(spec.big, spec.key)
        if spec.kind == "wav":
            return wav_stream(spec.big, spec.key, spec.channels, spec.sample_rate)
        return mp4_stream(spec.big, spec.key)
    if spec.kind == "png":
        data = png_bytes(spec.width, spec.height, spec.key)
    elif spec.kind == "wav":
        data = wav_bytes(spec.seconds, spec.key, spec.channels, spec.sample_rate)
    else:
        data = mp4_bytes(spec.seconds, spec.key)
    return len(data), _chunks(data)


def size_of(spec: MediaSpec) -> int:
    """The file's length without sending it (fal reports `file_size` in its output)."""
    if spec.big is not None:
        return max(spec.big, MIN_BIG_PNG) if spec.kind == "png" else spec.big
    return render(spec)[0]


def _chunks(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), CHUNK):
        yield bytes(view[start : start + CHUNK])


# --- PNG -----------------------------------------------------------------------------------------------


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _ihdr(width: int, height: int) -> bytes:
    # 8-bit truecolour (colour type 2), no interlace.
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def _row_template(width: int, digest: bytes) -> bytes:
    """Two rows' worth of RGB gradient, so any rotation of one row is a plain slice."""
    a, b, c = digest[0] | 1, digest[1] | 1, digest[2] | 1
    span = range(2 * width)
    red = bytes(((x * a) // 4 + digest[3]) & 255 for x in span)
    green = bytes(((x * b) // 8 + digest[4]) & 255 for x in span)
    blue = bytes(((x * c) // 16 + digest[5]) & 255 for x in span)
    rgb = bytearray(6 * width)
    rgb[0::3], rgb[1::3], rgb[2::3] = red, green, blue
    return bytes(rgb)


def png_bytes(width: int, height: int, key: bytes) -> bytes:
    """A width x height PNG whose pattern depends on `key`; built from row slices, not per-pixel loops."""
    digest = hashlib.sha256(key).digest()
    template = _row_template(width, digest)
    # Eight horizontal bands, each remapped through its own byte table, give vertical structure cheaply.
    tables = [bytes((v + band * digest[6] + digest[7 + band]) & 255 for v in range(256)) for band in range(8)]
    step = digest[16] % 7 + 1
    rows = []
    for y in range(height):
        offset = ((y * step) % width) * 3
        row = template[offset : offset + 3 * width]
        rows.append(b"\x00" + row.translate(tables[y * 8 // height]))
    idat = zlib.compress(b"".join(rows), 6)
    return PNG_SIGNATURE + _ihdr(width, height) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


_BIG_WIDTH = 1024
_BIG_ROW = 1 + 3 * _BIG_WIDTH
_STORED_BLOCK = 65535  # the largest uncompressed ("stored") deflate block


def _big_png_layout(height: int) -> tuple[int, int]:
    """(zlib stream length, PNG length without padding) for a _BIG_WIDTH x height stored-deflate PNG."""
    raw = height * _BIG_ROW
    blocks = -(-raw // _STORED_BLOCK)
    zlen = 2 + raw + 5 * blocks + 4
    idats = -(-zlen // CHUNK)
    return zlen, len(PNG_SIGNATURE) + 25 + zlen + 12 * idats + 12


def png_stream(total: int, key: bytes) -> tuple[int, Iterator[bytes]]:
    """A valid PNG of exactly `total` bytes (at least 4 KiB), produced 1 MiB at a time.

    The image data is stored (uncompressed) deflate so its size is known up front; a private ancillary
    chunk ("sbPd", ignored by every decoder) pads the file to the exact length asked for.
    """
    total = max(total, MIN_BIG_PNG)
    low, high = 1, max(1, total // _BIG_ROW)
    while low < high:  # the largest height whose PNG plus a 12-byte padding chunk still fits
        mid = (low + high + 1) // 2
        if _big_png_layout(mid)[1] + 12 <= total:
            low = mid
        else:
            high = mid - 1
    height = low
    zlen, used = _big_png_layout(height)
    padding = total - used - 12
    return total, _big_png_chunks(height, zlen, padding, key)


def _big_png_chunks(height: int, zlen: int, padding: int, key: bytes) -> Iterator[bytes]:
    yield PNG_SIGNATURE + _ihdr(_BIG_WIDTH, height)
    pending = bytearray()
    for piece in _stored_zlib(height, key):
        pending += piece
        while len(pending) >= CHUNK:
            yield _chunk(b"IDAT", bytes(pending[:CHUNK]))
            del pending[:CHUNK]
    if pending:
        yield _chunk(b"IDAT", bytes(pending))
    yield from _padding_chunk(padding)
    yield _chunk(b"IEND", b"")


def _stored_zlib(height: int, key: bytes) -> Iterator[bytes]:
    digest = hashlib.sha256(key).digest()
    row = b"\x00" + _row_template(_BIG_WIDTH, digest)[: 3 * _BIG_WIDTH]
    # Every row is the same, so the raw stream is periodic: each block is one slice of a long buffer.
    period = row * (_STORED_BLOCK // _BIG_ROW + 2)
    raw = height * _BIG_ROW
    adler = 1
    yield b"\x78\x01"
    for start in range(0, raw, _STORED_BLOCK):
        size = min(_STORED_BLOCK, raw - start)
        offset = start % _BIG_ROW
        data = period[offset : offset + size]
        adler = zlib.adler32(data, adler)
        final = 1 if start + size >= raw else 0
        yield bytes([final]) + struct.pack("<HH", size, size ^ 0xFFFF) + data
    yield struct.pack(">I", adler)


def _padding_chunk(size: int) -> Iterator[bytes]:
    kind = b"sbPd"
    crc = zlib.crc32(kind)
    yield struct.pack(">I", size) + kind
    zeros = bytes(CHUNK)
    left = size
    while left > 0:
        piece = zeros[: min(CHUNK, left)]
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
        yield piece
    yield struct.pack(">I", crc)


# --- WAV -----------------------------------------------------------------------------------------------


def _one_second(key: bytes, channels: int, sample_rate: int) -> bytes:
    """One second of a sine tone (an integer frequency, so seconds repeat seamlessly)."""
    digest = hashlib.sha256(key).digest()
    freq = 220 + digest[0] * 2
    mono = array.array(
        "h", (int(9000 * math.sin(2 * math.pi * freq * t / sample_rate)) for t in range(sample_rate))
    )
    if channels == 1:
        return mono.tobytes()
    frames = array.array("h", bytes(len(mono) * 2 * channels))
    for ch in range(channels):
        frames[ch::channels] = mono
    return frames.tobytes()


def wav_bytes(seconds: float, key: bytes, channels: int = 1, sample_rate: int = 22050) -> bytes:
    second = _one_second(key, channels, sample_rate)
    frame = 2 * channels
    frames = max(1, int(seconds * sample_rate))
    pcm = second * (frames // sample_rate) + second[: (frames % sample_rate) * frame]
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return out.getvalue()


def wav_stream(
    total: int, key: bytes, channels: int = 1, sample_rate: int = 22050
) -> tuple[int, Iterator[bytes]]:
    """A WAV file of exactly `total` bytes (header written by hand: `wave` needs the data up front)."""
    frame = 2 * channels
    data_size = max(frame, (total - 44) // frame * frame)
    header = b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * frame, frame, 16)
    header += b"data" + struct.pack("<I", data_size)
    trailer = total - 44 - data_size  # odd leftovers go after the data chunk as a pad byte or two

    def chunks() -> Iterator[bytes]:
        yield header
        second = _one_second(key, channels, sample_rate)
        left = data_size
        while left > 0:
            piece = second[: min(len(second), left)]
            left -= len(piece)
            yield piece
        if trailer > 0:
            yield bytes(trailer)

    return 44 + data_size + max(trailer, 0), chunks()


# --- MP4 -----------------------------------------------------------------------------------------------
# Structurally valid ISO BMFF (ftyp + moov/mvhd + mdat) but NOT playable: there are no tracks, and the
# mdat holds filler bytes. Enough for content sniffing, box walkers and download tests.


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4_head(seconds: float) -> bytes:
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = struct.pack(">B3xIIII", 0, 0, 0, 1000, int(seconds * 1000))
    mvhd += struct.pack(">IH10x", 0x10000, 0x100) + matrix + bytes(24) + struct.pack(">I", 1)
    return ftyp + _box(b"moov", _box(b"mvhd", mvhd))


def mp4_bytes(seconds: float, key: bytes) -> bytes:
    filler = hashlib.sha256(key).digest() * 64
    return _mp4_head(seconds) + _box(b"mdat", filler)


def mp4_stream(total: int, key: bytes) -> tuple[int, Iterator[bytes]]:
    """An MP4 of exactly `total` bytes whose mdat is streamed 1 MiB at a time."""
    head = _mp4_head(5.0)
    body = max(0, total - len(head) - 16)
    # 64-bit "largesize" mdat header (size field 1), valid for any length.
    mdat = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 16 + body)

    def chunks() -> Iterator[bytes]:
        yield head + mdat
        block = (hashlib.sha256(key).digest() * (CHUNK // 32))[:CHUNK]
        left = body
        while left > 0:
            piece = block[: min(CHUNK, left)]
            left -= len(piece)
            yield piece

    return len(head) + 16 + body, chunks()
