"""Did-you-mean for model ids, and the errors that carry it: not found, wrong kind, needs a version. Pure.

Ranking: fal's id rule first (`fal-ai/flux-dev` is app `flux-dev`; re-split as `fal-ai/flux/dev`,
fal-api.md §6.1), then the same words in any order (`flux-1.1-pro` ~ `flux-pro/v1.1`), then edit distance.
The same model on the other provider is the one whose name has the same words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Any

from genctl.errors import GenctlError, error
from genctl.providers import registry
from genctl.providers.base import ModelInfo

# Media models to offer instead of a text model, by kind (ids from fal-api.md §6.1 and the catalogue).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "image": ("fal-ai/flux/dev", "black-forest-labs/flux-schnell"),
    "video": ("fal-ai/kling-video/v2.1/master/text-to-video", "minimax/video-01"),
    "audio": ("fal-ai/stable-audio", "fal-ai/elevenlabs/tts/multilingual-v2"),
}
_VERSION_WORD = re.compile(r"^v(\d+(\.\d+)*)$")
# Names of text (chat, embedding, transcription) models people try by habit. Checked on the last segment
# of the id, and only when no media word is in it: `gemini-2.5-flash-image` and `qwen-image` are images.
_TEXT_MODEL = re.compile(
    r"^(gpt-?\d|gpt-4o|chatgpt|o[134](-mini|-pro|-preview)?$|claude|gemini|llama|meta-llama|mistral|"
    r"mixtral|deepseek|qwen|phi-?\d|command-r|text-embedding|embed|whisper|grok|any-llm)"
    r"|(^|[-_])(llm|instruct|chat)([-_]|$)"
)
_MEDIA_WORDS = re.compile(
    r"image|img|video|audio|tts|speech|voice|music|sound|song|diffusion|flux|sdxl|vision|3d|avatar|lipsync"
)


def tokens(model_id: str, *, owner: bool = False) -> tuple[str, ...]:
    """The words of an id without its owner (with it when `owner`): `fal-ai/flux-pro/v1.1` -> flux pro 1.1."""
    segments = model_id.lower().strip().strip("/").split(":")[0].split("/")
    if not owner and len(segments) > 1:
        segments = segments[1:]
    words = re.split(r"[/_\-\s]+", "/".join(segments))
    return tuple(_VERSION_WORD.sub(r"\1", w) for w in words if w)


def looks_like_text_model(model_id: str) -> bool:
    """`gpt-4o-mini`, `claude-3-5-sonnet`, `meta/meta-llama-3-8b-instruct`: names of text models."""
    name = model_id.lower().strip().strip("/").split(":")[0].rsplit("/", 1)[-1]
    return bool(_TEXT_MODEL.search(name)) and not _MEDIA_WORDS.search(name)


def _owner(model_id: str) -> str:
    return model_id.strip("/").split("/")[0].lower()


def rank(
    model_id: str, candidates: Iterable[ModelInfo], *, exact: Iterable[str] = (), limit: int = 3
) -> list[ModelInfo]:
    """The candidates most like `model_id`, best first. `exact` ids win outright (fal's re-split rule)."""
    wanted = tokens(model_id)
    text = "-".join(wanted)
    first = set(exact)
    scored: list[tuple[float, str, ModelInfo]] = []
    for model in candidates:
        if model.id == model_id:
            continue
        have = tokens(model.id)
        if sorted(have) == sorted(wanted):
            score = 1.0
        else:
            union = set(have) | set(wanted)
            overlap = len(set(have) & set(wanted)) / len(union) if union else 0.0
            score = 0.55 * overlap + 0.45 * SequenceMatcher(None, text, "-".join(have)).ratio()
        score += 0.05 * (_owner(model.id) == _owner(model_id)) + 0.2 * (model.id in first)
        score -= 0.05 * (model.status == "deprecated")
        if score >= 0.55:
            scored.append((-score, model.id, model))
    scored.sort(key=lambda item: (item[0], len(item[1]), item[1]))
    return [model for _, _, model in scored[:limit]]


def same_model(model_id: str, others: Iterable[ModelInfo]) -> list[ModelInfo]:
    """Models of the other provider with the same name: `fal-ai/flux/dev` ~ `black-forest-labs/flux-dev`.

    The owner may be part of the name on one side (`minimax/video-01` ~ `fal-ai/minimax/video-01`).
    """
    mine = {tuple(sorted(tokens(model_id))), tuple(sorted(tokens(model_id, owner=True)))}
    found = []
    for model in others:
        theirs = {tuple(sorted(tokens(model.id))), tuple(sorted(tokens(model.id, owner=True)))}
        if mine & theirs and model.kind != "text":
            found.append(model)
    return found


def not_found_fix(model_id: str, ranked: list[ModelInfo], elsewhere: list[ModelInfo], fallback: str) -> str:
    """The fix of model.not_found: the best guesses, the same model elsewhere, and a search to run."""
    parts = []
    if ranked:
        parts.append(f"Did you mean {ranked[0].id}?")
        if len(ranked) > 1:
            parts.append(f"Also close: {', '.join(m.id for m in ranked[1:])}.")
    for model in elsewhere[:2]:
        if model.id == model_id:  # the id was right, the provider was not: repeating -m would loop
            where = registry.label(model.provider)
            parts.append(f"{model.id} is on {where}: run it there with --provider {model.provider}.")
        else:
            parts.append(f"On {registry.label(model.provider)}: {model.id} (-m {model.id}).")
    if not parts:
        parts.append(fallback)
    words = " ".join(tokens(model_id)[:3])
    if words:
        parts.append(f"Search: genctl models {words}")
    return " ".join(parts)


def suggestions_json(ranked: list[ModelInfo], elsewhere: list[ModelInfo]) -> list[dict[str, Any]]:
    return [{"provider": m.provider, "id": m.id} for m in [*ranked, *elsewhere]]


def with_fix(err: GenctlError, fix: str, **details: Any) -> GenctlError:
    """`err` with a better fix (and extra details): same code, message, provider, status and request id."""
    return error(
        err.code,
        err.message,
        fix=fix,
        provider=err.provider,
        http_status=err.http_status,
        request_id=err.request_id,
        details={**err.details, **details},
    )


def wrong_kind(model_id: str, *, found: ModelInfo | None = None) -> GenctlError:
    """model.wrong_kind (exit 4): say what genctl generates and offer media models of each kind."""
    if found is not None:
        what = f"a language model on {registry.label(found.provider)}"
        what += f" (category {found.category})" if found.category else ""
    else:
        what = "a text (chat or language) model"
    offers = "; ".join(f"{kind}: {' or '.join(ids)}" for kind, ids in EXAMPLES.items())
    return error(
        "model.wrong_kind",
        f"{model_id} is {what}: genctl generates images, video and audio, not text.",
        fix=f"Use a media model — {offers}. List more: genctl models --category text-to-image.",
        provider=found.provider if found else None,
        details={"suggestions": [{"kind": kind, "ids": list(ids)} for kind, ids in EXAMPLES.items()]},
    )


def needs_version(model_id: str, latest: str | None, *, provider: str, said: str = "") -> GenctlError:
    """model.needs_version (exit 4) with the latest version id in the fix (replicate-api.md §1.1)."""
    ref = model_id.split(":")[0]
    info = registry.info(provider)
    page = info.model_page.format(id=ref) + "/versions"
    fix = f"Run it as -m {ref}:{latest} (its latest version), or pick a version at {page}."
    if latest is None:
        fix = f"Run it as -m {ref}:<version id>; versions are listed at {page}."
    reason = f": {said}" if said else ""
    return error(
        "model.needs_version",
        f"{ref} is a community model on {info.label}: it runs only at a version "
        f"(owner/name:version){reason}.",
        fix=fix,
        provider=provider,
        details={"latest_version": latest} if latest else None,
    )
