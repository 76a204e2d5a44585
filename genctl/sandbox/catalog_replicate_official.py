"""Official Replicate models the built-in aliases name (black-forest-labs, recraft-ai, google, kwaivgi).

Each model cites where its input fields come from. A version id copied from a replicate.com
`/versions/<id>/api` page is real; the others are synthesised (sha256 of the ref, as in catalog_replicate).
Fields taken from third-party listings of the model, not Replicate's own page, are UNVERIFIED, and so is
which fields Cog marks required beyond `prompt`.
"""

from __future__ import annotations

from genctl.sandbox.catalog import (
    Json,
    OutputKind,
    ReplicateModel,
    ReplicateVersion,
    boolean,
    cog_input,
    integer,
    number,
    ref_field,
    string,
)
from genctl.sandbox.catalog_replicate import _URI, _openapi, _synthetic_id

_IMAGE_URI = {"type": "string", "format": "uri"}


def official(
    ref: str,
    description: str,
    kind: OutputKind,
    versions: list[tuple[str, str, Json]],
    *,
    run_count: int,
    collections: tuple[str, ...],
    tags: tuple[str, ...],
) -> ReplicateModel:
    """An official model; `versions` newest first as (id, or "" to synthesise one; created_at; openapi)."""
    owner, name = ref.split("/")
    built = tuple(
        ReplicateVersion(id=vid or _synthetic_id(ref), created_at=created, openapi_schema=schema)
        for vid, created, schema in versions
    )
    return ReplicateModel(
        owner=owner,
        name=name,
        description=description,
        kind=kind,
        official=True,
        versions=built,
        run_count=run_count,
        collections=collections,
        tags=tags,
        output_shape="single",  # every model here: Output {"type": "string", "format": "uri"}
    )


def _int_enum(name: str, values: list[int]) -> Json:
    """Cog's component for an integer choice (`duration: int = Input(choices=[5, 10])`)."""
    return {"title": name, "description": "An enumeration.", "enum": values, "type": "integer"}


def with_int_enums(schema: Json, enums: dict[str, list[int]]) -> Json:
    schema["components"]["schemas"].update({n: _int_enum(n, v) for n, v in enums.items()})
    return schema


def image_uri(title: str, description: str) -> Json:
    return string(title, description, format="uri")


def image_list(title: str, description: str) -> Json:
    return {"type": "array", "items": _IMAGE_URI, "title": title, "description": description, "default": []}


_FLUX_PRO_RATIOS = ["custom", "1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3"]

# replicate.com/black-forest-labs/flux-1.1-pro/versions/96ccd0e7…/api (model page: every field below).
FLUX_11_PRO = official(
    "black-forest-labs/flux-1.1-pro",
    "Faster, better FLUX Pro. Text-to-image model with excellent image quality and prompt adherence.",
    "image",
    [
        (
            "96ccd0e758a1796926584ded2246369cdf8eb3d7c34475cf9c442be5e097d926",
            "2025-03-19T14:21:06.112284Z",  # UNVERIFIED: the page shows no date
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "Text prompt for image generation"),
                        "image_prompt": image_uri("Image Prompt", "Image to use with Flux Redux."),
                        "aspect_ratio": ref_field(
                            "aspect_ratio", "aspect_ratio", "1:1", "Aspect ratio for the generated image"
                        ),
                        "width": integer(
                            "Width", "Width in text-to-image mode (aspect_ratio=custom)", lo=256, hi=1440
                        ),
                        "height": integer(
                            "Height", "Height in text-to-image mode (aspect_ratio=custom)", lo=256, hi=1440
                        ),
                        "safety_tolerance": integer(
                            "Safety Tolerance", "1 is most strict, 6 most permissive", 2, 1, 6
                        ),
                        "seed": integer("Seed", "Random seed. Set for reproducible generation"),
                        "prompt_upsampling": boolean(
                            "Prompt Upsampling", "Modify the prompt creatively", False
                        ),
                        "output_format": ref_field(
                            "output_format", "output_format", "webp", "Format of the output images."
                        ),
                        "output_quality": integer(
                            "Output Quality", "Quality when saving the output images", 80, 0, 100
                        ),
                    },
                    ["prompt"],
                ),
                _URI,
                {"aspect_ratio": _FLUX_PRO_RATIOS, "output_format": ["webp", "jpg", "png"]},
            ),
        )
    ],
    run_count=48_000_000,
    collections=("text-to-image",),
    tags=("text-to-image", "flux"),
)

# UNVERIFIED (third-party copies of replicate.com/black-forest-labs/flux-1.1-pro-ultra: docs.kkiai.com,
# docs.yutoai.net): the fields and defaults; the ratio list is the ultra one fal publishes too.
FLUX_11_PRO_ULTRA = official(
    "black-forest-labs/flux-1.1-pro-ultra",
    "FLUX1.1 [pro] in ultra and raw modes. Images are up to 4 megapixels.",
    "image",
    [
        (
            "",
            "2025-03-19T14:25:41.520337Z",
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "Text prompt for image generation"),
                        "aspect_ratio": ref_field("aspect_ratio", "aspect_ratio", "1:1", "Aspect ratio"),
                        "safety_tolerance": integer(
                            "Safety Tolerance", "1 is most strict, 6 most permissive", 2, 1, 6
                        ),
                        "seed": integer("Seed", "Random seed. Set for reproducible generation"),
                        "raw": boolean("Raw", "Generate less processed, more natural-looking images", False),
                        "output_format": ref_field("output_format", "output_format", "jpg", "Output format"),
                        "image_prompt": image_uri("Image Prompt", "Image to use with Flux Redux."),
                        "image_prompt_strength": number(
                            "Image Prompt Strength", "Blend of prompt and image prompt", 0.1, 0, 1
                        ),
                    },
                    ["prompt"],
                ),
                _URI,
                {
                    "aspect_ratio": [
                        "21:9",
                        "16:9",
                        "3:2",
                        "4:3",
                        "5:4",
                        "1:1",
                        "4:5",
                        "3:4",
                        "2:3",
                        "9:16",
                        "9:21",
                    ],
                    "output_format": ["jpg", "png"],
                },
            ),
        )
    ],
    run_count=17_000_000,
    collections=("text-to-image",),
    tags=("text-to-image", "flux"),
)

# UNVERIFIED (api.core.today/v1/models/black-forest-labs/flux-kontext-pro/llms.txt and docs.kkiai.com,
# both copying replicate.com/black-forest-labs/flux-kontext-pro): fields, defaults and bounds.
FLUX_KONTEXT_PRO = official(
    "black-forest-labs/flux-kontext-pro",
    "A state-of-the-art text-based image editing model with excellent prompt following and consistent "
    "results",
    "image",
    [
        (
            "",
            "2025-05-29T12:00:41.000000Z",
            _openapi(
                cog_input(
                    {
                        "prompt": string(
                            "Prompt", "Text description of what you want to generate, or the edit"
                        ),
                        "input_image": image_uri(
                            "Input Image", "Image to use as reference. jpeg, png, gif, or webp."
                        ),
                        "aspect_ratio": ref_field(
                            "aspect_ratio", "aspect_ratio", "match_input_image", "Aspect ratio"
                        ),
                        "seed": integer("Seed", "Random seed. Set for reproducible generation"),
                        "output_format": ref_field("output_format", "output_format", "png", "Output format"),
                        "safety_tolerance": integer(
                            "Safety Tolerance", "0 is most strict, 6 most permissive", 2, 0, 6
                        ),
                        "prompt_upsampling": boolean(
                            "Prompt Upsampling", "Automatic prompt improvement", False
                        ),
                    },
                    ["prompt"],
                ),
                _URI,
                {
                    "aspect_ratio": [
                        "match_input_image",
                        "1:1",
                        "16:9",
                        "9:16",
                        "4:3",
                        "3:4",
                        "3:2",
                        "2:3",
                        "4:5",
                        "5:4",
                        "21:9",
                        "9:21",
                        "2:1",
                        "1:2",
                    ],
                    "output_format": ["jpg", "png"],
                },
            ),
        )
    ],
    run_count=30_000_000,
    collections=("image-editing",),
    tags=("image-editing", "flux"),
)

_RECRAFT_SIZES = [
    "1024x1024",
    "1365x1024",
    "1024x1365",
    "1536x1024",
    "1024x1536",
    "1820x1024",
    "1024x1820",
    "1024x2048",
    "2048x1024",
    "1434x1024",
    "1024x1434",
    "1024x1280",
    "1280x1024",
    "1024x1707",
    "1707x1024",
]
_RECRAFT_RATIOS = [
    "Not set",
    "1:1",
    "4:3",
    "3:4",
    "3:2",
    "2:3",
    "16:9",
    "9:16",
    "1:2",
    "2:1",
    "7:5",
    "5:7",
    "4:5",
    "5:4",
    "3:5",
    "5:3",
]

# UNVERIFIED (docs.kkiai.com and v98store.com copies of replicate.com/recraft-ai/recraft-v3; sizes and
# ratios from docs.scenario.com's Recraft V3 table): fields and defaults. `style` takes any string here:
# Recraft lists ~20 styles and substyles ("any", "realistic_image/b_and_w", …).
RECRAFT_V3 = official(
    "recraft-ai/recraft-v3",
    "Recraft V3 is a text-to-image model with the ability to generate long texts and images in a wide "
    "range of styles",
    "image",
    [
        (
            "",
            "2024-10-30T17:12:33.000000Z",
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "Text prompt for image generation"),
                        "size": ref_field(
                            "size", "size", "1024x1024", "Width and height of the generated image"
                        ),
                        "style": string("Style", "Style of the generated image.", "any"),
                        "aspect_ratio": ref_field("aspect_ratio", "aspect_ratio", "Not set", "Aspect ratio"),
                    },
                    ["prompt"],
                ),
                _URI,
                {"size": _RECRAFT_SIZES, "aspect_ratio": _RECRAFT_RATIOS},
            ),
        )
    ],
    run_count=7_000_000,
    collections=("text-to-image",),
    tags=("text-to-image", "design"),
)

_NANO_RATIOS = ["match_input_image", "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]

# Two versions: the older one exactly as replicate.com/google/nano-banana/versions/f0a9d34b…/api shows it
# (prompt, image_input, output_format); the newest adds aspect_ratio — UNVERIFIED, from
# api.core.today/v1/models/google/nano-banana/llms.txt, a third-party copy of the model's schema.
NANO_BANANA = official(
    "google/nano-banana",
    "Google's latest image editing model in Gemini 2.5",
    "image",
    [
        (
            "",
            "2025-09-10T08:13:52.000000Z",
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "A text description of the image you want to generate"),
                        "image_input": image_list(
                            "Image Input", "Input images to transform or use as reference"
                        ),
                        "aspect_ratio": ref_field("aspect_ratio", "aspect_ratio", "1:1", "Aspect ratio"),
                        "output_format": ref_field("output_format", "output_format", "jpg", "Output format"),
                    },
                    ["prompt"],
                ),
                _URI,
                {"aspect_ratio": _NANO_RATIOS, "output_format": ["jpg", "png"]},
            ),
        ),
        (
            "f0a9d34b12ad1c1cd76269a844b218ff4e64e128ddaba93e15891f47368958a0",
            "2025-08-26T15:04:11.000000Z",  # UNVERIFIED: the page shows no date
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "A text description of the image you want to generate"),
                        "image_input": image_list(
                            "Image Input", "Input images to transform or use as reference"
                        ),
                        "output_format": ref_field("output_format", "output_format", "jpg", "Output format"),
                    },
                    ["prompt"],
                ),
                _URI,
                {"output_format": ["jpg", "png"]},
            ),
        ),
    ],
    run_count=22_000_000,
    collections=("text-to-image", "image-editing"),
    tags=("text-to-image", "image-editing", "google"),
)

OFFICIAL_IMAGE_MODELS: tuple[ReplicateModel, ...] = (
    FLUX_11_PRO,
    FLUX_11_PRO_ULTRA,
    FLUX_KONTEXT_PRO,
    RECRAFT_V3,
    NANO_BANANA,
)
