"""Did-you-mean and the wrong-kind check, pure (genctl.catalog.suggest), over the sandbox's real model ids."""

from __future__ import annotations

import pytest

from genctl.catalog.suggest import looks_like_text_model, needs_version, rank, same_model, tokens, wrong_kind
from genctl.providers.base import ModelInfo, category_kind
from genctl.sandbox.catalog import fal_models, replicate_models

FAL = [ModelInfo(m.endpoint_id, "fal", m.category, status=m.status) for m in fal_models()]
REPLICATE = [ModelInfo(m.ref, "replicate") for m in replicate_models()]


@pytest.mark.parametrize(
    ("model_id", "words"),
    [
        ("fal-ai/flux-pro/v1.1", ("flux", "pro", "1.1")),
        ("fal-ai/flux-1.1-pro", ("flux", "1.1", "pro")),
        ("black-forest-labs/flux-dev", ("flux", "dev")),
        ("stability-ai/sdxl:39ed52f2", ("sdxl",)),
        ("gpt-4o-mini", ("gpt", "4o", "mini")),
    ],
)
def test_tokens(model_id: str, words: tuple[str, ...]) -> None:
    assert tokens(model_id) == words


@pytest.mark.parametrize(
    ("model_id", "first"),
    [
        ("fal-ai/flux-dev", "fal-ai/flux/dev"),
        ("fal-ai/flux-schnell", "fal-ai/flux/schnell"),
        ("fal-ai/flux-1.1-pro", "fal-ai/flux-pro/v1.1"),
        ("fal-ai/flux/deev", "fal-ai/flux/dev"),
        ("fal-ai/stable-audio-open", "fal-ai/stable-audio"),
    ],
)
def test_rank_puts_the_meant_id_first(model_id: str, first: str) -> None:
    assert rank(model_id, FAL)[0].id == first


def test_fal_re_split_wins() -> None:
    # fal's rule (an app `flux-dev` is app `flux`, path `dev`) beats a closer spelling.
    assert rank("fal-ai/flux-dev", FAL, exact=["fal-ai/flux/dev"])[0].id == "fal-ai/flux/dev"


def test_rank_gives_nothing_for_nonsense() -> None:
    assert rank("fal-ai/zzzz-qqqq", FAL) == []


@pytest.mark.parametrize(
    ("model_id", "others", "found"),
    [
        ("fal-ai/flux/dev", REPLICATE, ["black-forest-labs/flux-dev"]),
        ("fal-ai/flux-dev", REPLICATE, ["black-forest-labs/flux-dev"]),
        ("black-forest-labs/flux-schnell", FAL, ["fal-ai/flux/schnell"]),
        ("minimax/video-01", FAL, ["fal-ai/minimax/video-01"]),
        ("fal-ai/flux-pro/v1.1", REPLICATE, ["black-forest-labs/flux-1.1-pro"]),
    ],
)
def test_same_model_on_the_other_provider(model_id: str, others: list[ModelInfo], found: list[str]) -> None:
    assert [m.id for m in same_model(model_id, others)] == found


@pytest.mark.parametrize(
    "model_id",
    [
        "gpt-4o-mini",
        "gpt-4.1",
        "o3-mini",
        "claude-3-5-sonnet-latest",
        "gemini-2.0-flash",
        "meta/meta-llama-3-8b-instruct",
        "mistralai/mixtral-8x7b-instruct-v0.1",
        "deepseek-ai/deepseek-r1",
        "fal-ai/any-llm",
        "text-embedding-3-small",
    ],
)
def test_text_model_names(model_id: str) -> None:
    assert looks_like_text_model(model_id)


@pytest.mark.parametrize(
    "model_id",
    [
        "fal-ai/flux/dev",
        "gpt-image-1",
        "openai/gpt-image-1",
        "gemini-2.5-flash-image",
        "qwen/qwen-image",
        "fal-ai/minimax/speech-02-hd",
        "meta/musicgen",
        "resemble-ai/chatterbox",
        "stability-ai/sdxl",
        "fal-ai/kling-video/v2.1/master/text-to-video",
    ],
)
def test_media_model_names(model_id: str) -> None:
    assert not looks_like_text_model(model_id)


@pytest.mark.parametrize(
    ("category", "kind"),
    [
        ("text-to-image", "image"),
        ("image-to-video", "video"),
        ("text-to-speech", "audio"),
        ("image-to-3d", "3d"),
        ("speech-to-text", "text"),
        ("language-models", "text"),
        ("llm", "text"),
        ("image-editing", "image"),
        ("training", None),
        (None, None),
    ],
)
def test_category_kind(category: str | None, kind: str | None) -> None:
    assert category_kind(category) == kind


def test_wrong_kind_says_what_genctl_does() -> None:
    err = wrong_kind("gpt-4o-mini")
    assert (err.code, err.exit_code) == ("model.wrong_kind", 4)
    assert err.message == (
        "gpt-4o-mini is a text (chat or language) model: genctl generates images, video and audio, not text."
    )
    assert [s["kind"] for s in err.details["suggestions"]] == ["image", "video", "audio"]


def test_needs_version_names_the_latest() -> None:
    err = needs_version("stability-ai/sdxl", "abc123", provider="replicate")
    assert (err.code, err.exit_code, err.provider) == ("model.needs_version", 4, "replicate")
    assert err.fix.startswith("Run it as -m stability-ai/sdxl:abc123 (its latest version)")
    assert (
        "replicate.com/stability-ai/sdxl/versions"
        in needs_version("stability-ai/sdxl", None, provider="replicate").fix
    )
