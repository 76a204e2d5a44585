"""Model outputs shaped like the real APIs', with every file registered for download under /media/.

Output field names follow fal's and Replicate's published output schemas as known offline. UNVERIFIED:
the ElevenLabs endpoint's field (`audio`, real content type audio/mpeg; we serve WAV and say so).
Images are always PNG; when a request asks for jpeg/webp the sandbox still sends PNG and labels it
honestly as image/png with a .png name.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from genctl.sandbox.catalog import FalModel, Json, ReplicateModel
from genctl.sandbox.catalog_fal import IMAGE_SIZE_PRESETS, ULTRA_SIZES
from genctl.sandbox.catalog_replicate import ASPECT_SIZES
from genctl.sandbox.media import MediaKind, MediaSpec, render, size_of
from genctl.sandbox.state import Store
from genctl.sandbox.wire import Response

_BIG_DATA_URI_LIMIT = 8 * 1024 * 1024  # never inline a big output into JSON


@dataclass(frozen=True)
class MediaContext:
    store: Store
    base_url: str
    provider: str  # fal | replicate: the path segment under /media/
    data_uri: bool = False
    big: int | None = None


def file_url(ctx: MediaContext, spec: MediaSpec) -> str:
    if ctx.data_uri and (spec.big is None or spec.big <= _BIG_DATA_URI_LIMIT):
        _, chunks = render(spec)
        return f"data:{spec.content_type};base64," + base64.b64encode(b"".join(chunks)).decode()
    media_id = ctx.store.add_media(spec)
    return f"{ctx.base_url}/media/{ctx.provider}/{media_id}/{spec.filename}"


def derived_seed(job_id: str) -> int:
    """The seed a model picks when the caller gives none: random per job, reported back like fal does."""
    return int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % 2_147_483_647


def _key(*parts: Any) -> bytes:
    return "|".join(str(p) for p in parts).encode()


def _spec(ctx: MediaContext, kind: MediaKind, filename: str, key: bytes, **params: Any) -> MediaSpec:
    return MediaSpec(kind=kind, filename=filename, key=key, big=ctx.big, **params)


# --- fal ------------------------------------------------------------------------------------------------


def _fal_size(model: FalModel, inputs: Json) -> tuple[int, int]:
    if model.endpoint_id == "fal-ai/aura-flow":
        return 1024, 1024
    if "aspect_ratio" in model.input_schema["properties"]:
        ratio = str(inputs.get("aspect_ratio", "16:9"))
        if ratio in ULTRA_SIZES:
            return ULTRA_SIZES[ratio]
        w, _, h = ratio.partition(":")
        scale = (4_000_000 / (float(w) * float(h))) ** 0.5 if w and h else 1.0
        return int(float(w or 1) * scale) // 16 * 16, int(float(h or 1) * scale) // 16 * 16
    size = inputs.get("image_size", model.input_schema["properties"].get("image_size", {}).get("default"))
    if isinstance(size, dict):
        return int(size.get("width", 512)), int(size.get("height", 512))
    return IMAGE_SIZE_PRESETS.get(str(size), (1024, 768))


def _fal_file(ctx: MediaContext, spec: MediaSpec) -> Json:
    return {
        "url": file_url(ctx, spec),
        "content_type": spec.content_type,
        "file_name": spec.filename,
        "file_size": size_of(spec),
    }


def fal_output(model: FalModel, inputs: Json, job_id: str, ctx: MediaContext) -> Json:
    """The result body of a successful fal job (fal-api.md §1.5 for the image shape)."""
    seed = inputs.get("seed")
    seed = derived_seed(job_id) if seed is None else int(seed)
    prompt = str(inputs.get("prompt", inputs.get("text", "")))
    if model.kind == "image":
        width, height = _fal_size(model, inputs)
        count = int(inputs.get("num_images", 1))
        images = []
        for i in range(count):
            key = _key(model.endpoint_id, prompt, seed, i, width, height)
            spec = _spec(
                ctx, "png", f"{hashlib.sha1(key).hexdigest()[:20]}.png", key, width=width, height=height
            )
            url = file_url(ctx, spec)
            images.append({"url": url, "width": width, "height": height, "content_type": "image/png"})
        return {
            "images": images,
            "timings": {"inference": 0.0123},
            "seed": seed,
            "has_nsfw_concepts": [False] * count,
            "prompt": prompt,
        }
    if model.kind == "video":
        # Veo's duration is an enum of strings such as "8s" (catalog_fal_av.VEO_31), Kling's "5" or "10".
        seconds = float(str(inputs.get("duration", 6 if "minimax" in model.endpoint_id else 5)).rstrip("s"))
        key = _key(model.endpoint_id, prompt, seed)
        return {"video": _fal_file(ctx, _spec(ctx, "mp4", "output.mp4", key, seconds=seconds))}
    if model.kind == "audio":
        seconds = float(inputs.get("seconds_total", 30)) - float(inputs.get("seconds_start", 0))
        key = _key(model.endpoint_id, prompt, seed)
        spec = _spec(ctx, "wav", "output.wav", key, seconds=max(seconds, 1.0), channels=2, sample_rate=44100)
        return {"audio_file": _fal_file(ctx, spec)}
    seconds = max(1.0, len(prompt) / 15)  # speech: roughly 15 characters a second
    key = _key(model.endpoint_id, prompt, inputs.get("voice", "Rachel"))
    return {"audio": _fal_file(ctx, _spec(ctx, "wav", "output.wav", key, seconds=seconds))}


# --- Replicate ------------------------------------------------------------------------------------------


def _replicate_size(inputs: Json) -> tuple[int, int]:
    if "width" in inputs or "height" in inputs:
        return int(inputs.get("width", 1024)), int(inputs.get("height", 1024))
    width, height = ASPECT_SIZES.get(str(inputs.get("aspect_ratio", "1:1")), (1024, 1024))
    if str(inputs.get("megapixels", "1")) == "0.25":
        width, height = width // 32 * 16, height // 32 * 16
    return width, height


def _reply_tokens(prompt: str) -> list[str]:
    words = f"This is the sandbox speaking. You asked: {prompt}".split(" ")
    return [words[0], *(" " + w for w in words[1:])]


def replicate_output(model: ReplicateModel, inputs: Json, job_id: str, ctx: MediaContext) -> Any:
    """The `output` of a succeeded prediction: list of URLs, one URL, or a list of text tokens."""
    prompt = str(inputs.get("prompt", ""))
    seed = inputs.get("seed")
    seed = derived_seed(job_id) if seed is None else int(seed)
    if model.kind == "text":
        return _reply_tokens(prompt)
    urls: list[str] = []
    if model.kind == "image":
        width, height = _replicate_size(inputs)
        for i in range(int(inputs.get("num_outputs", 1))):
            key = _key(model.ref, prompt, seed, i, width, height)
            urls.append(file_url(ctx, _spec(ctx, "png", f"out-{i}.png", key, width=width, height=height)))
    elif model.kind == "video":
        seconds = float(inputs.get("num_frames", 48)) / float(inputs.get("fps", 8))
        key = _key(model.ref, prompt, seed)
        urls.append(file_url(ctx, _spec(ctx, "mp4", "output.mp4", key, seconds=seconds)))
    else:
        seconds = float(inputs.get("duration", 8))
        key = _key(model.ref, prompt, seed)
        spec = _spec(ctx, "wav", "output.wav", key, seconds=seconds, channels=2, sample_rate=32000)
        urls.append(file_url(ctx, spec))
    return urls[0] if model.output_shape == "single" else urls


def media_response(spec: MediaSpec) -> Response:
    """Serve a file with its exact Content-Length; big files stream from a generator, never held whole."""
    length, chunks = render(spec)
    return Response(200, {"Content-Type": spec.content_type}, stream=chunks, length=length)
