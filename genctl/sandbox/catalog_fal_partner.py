"""fal image models run through partners' APIs (Google, Recraft, BFL's pro line) that the aliases name.

Ids: fal-api.md §6.1 (fal-js generated endpoint list). Fields, defaults and bounds are as fal's model pages
publish them (cited per model); anything else is marked UNVERIFIED. Outputs: the sandbox answers every
image model in the FLUX shape (catalog_fal._image_output), so that is the output schema declared here too.
Prices are illustrative only.
"""

from __future__ import annotations

from genctl.sandbox.catalog import FalModel, Json, boolean, enum, fal_object, integer, number, string
from genctl.sandbox.catalog_fal import _image_output, _image_size, model_schemas, prompt_field

_SAFETY = ["1", "2", "3", "4", "5", "6"]

# fal.ai/docs/model-api-reference/image-generation-api/nano-banana (Input Schema). The real output is
# {images, description} (same page); the sandbox sends its FLUX image shape.
NANO_BANANA = FalModel(
    endpoint_id="fal-ai/nano-banana",
    display_name="Nano Banana",
    category="text-to-image",
    description="Google's state-of-the-art image generation and editing model (Gemini 2.5 Flash Image).",
    kind="image",
    schema_prefix="NanoBananaTextToImage",
    schemas=model_schemas(
        "NanoBananaTextToImage",
        {
            "prompt": prompt_field("The text prompt to generate an image from."),
            "num_images": integer("Num Images", "The number of images to generate.", 1, 1, 4),
            "seed": integer("Seed", "The seed for the random number generator."),
            "aspect_ratio": enum(
                "Aspect Ratio",
                ["21:9", "16:9", "3:2", "4:3", "5:4", "1:1", "4:5", "3:4", "2:3", "9:16"],
                "1:1",
                "The aspect ratio of the generated image.",
            ),
            "output_format": enum("Output Format", ["jpeg", "png", "webp"], "png"),
            "safety_tolerance": enum("Safety Tolerance", _SAFETY, "4", "1 is the most strict, 6 the least."),
            "sync_mode": boolean("Sync Mode", "Return the media as a data URI.", False),
            "limit_generations": boolean("Limit Generations", "Limit each round of prompting to 1.", False),
        },
        ["prompt"],
        _image_output("NanoBananaTextToImage"),
    ),
    tags=("google", "gemini", "editing"),
    unit_price=0.039,
    unit="image",
    typed_errors=True,
    date="2025-08-26T00:00:00Z",
)

# fal.ai/docs/model-api-reference/image-generation-api/flux-pro-kontext-max (same Input Schema as [pro],
# whose text-to-image and multi pages agree); image_url is required (kontext is an editing model).
FLUX_PRO_KONTEXT = FalModel(
    endpoint_id="fal-ai/flux-pro/kontext",
    display_name="FLUX.1 Kontext [pro]",
    category="image-to-image",
    description="FLUX.1 Kontext [pro]: edit an image with a prompt, keeping what the prompt does not touch.",
    kind="image",
    schema_prefix="FluxProKontext",
    schemas=model_schemas(
        "FluxProKontext",
        {
            "prompt": prompt_field("The prompt to edit the image with."),
            "image_url": string("Image URL", "The image to edit.", format="uri"),
            "seed": integer("Seed", "The same seed and prompt will output the same image every time."),
            "guidance_scale": number("Guidance scale (CFG)", "How closely to follow the prompt.", 3.5, 1, 20),
            "sync_mode": boolean("Sync Mode", "Return the media as a data URI.", False),
            "num_images": integer("Num Images", "The number of images to generate.", 1, 1, 4),
            "output_format": enum("Output Format", ["jpeg", "png"], "jpeg"),
            "safety_tolerance": enum("Safety Tolerance", _SAFETY, "2", "1 is the most strict."),
            "enhance_prompt": boolean("Enhance Prompt", "Whether to enhance the prompt.", False),
            "aspect_ratio": enum(
                "Aspect Ratio", ["21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21"]
            ),
        },
        ["prompt", "image_url"],
        _image_output("FluxProKontext"),
    ),
    tags=("flux", "pro", "image-editing"),
    unit_price=0.04,
    unit="image",
    typed_errors=True,
    date="2025-05-29T00:00:00Z",
)

_RGB: Json = fal_object(
    "RGBColor",
    {
        "r": integer("R", "Red color value", 0, 0, 255),
        "g": integer("G", "Green color value", 0, 0, 255),
        "b": integer("B", "Blue color value", 0, 0, 255),
    },
    [],
)

# Fields: fal's Recraft pages (fal.ai/models/fal-ai/recraft/v4.1/text-to-image/llms.txt has prompt,
# image_size, colors; V3 adds style and style_id). UNVERIFIED: style's values (fal lists ~40, "any",
# "realistic_image", "digital_illustration/pixel_art", …): the sandbox takes any string.
RECRAFT_V3 = FalModel(
    endpoint_id="fal-ai/recraft/v3/text-to-image",
    display_name="Recraft V3",
    category="text-to-image",
    description="Recraft V3: long texts, vector art and images in a brand style.",
    kind="image",
    schema_prefix="RecraftV3TextToImage",
    schemas={
        **model_schemas(
            "RecraftV3TextToImage",
            {
                "prompt": prompt_field(),
                "image_size": _image_size("square_hd"),
                "style": string("Style", "The style of the generated images.", "realistic_image"),
                "colors": {
                    "title": "Colors",
                    "description": "An array of preferable colors.",
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/RGBColor"},
                    "default": [],
                },
                "style_id": string("Style Id", "The ID of a custom style (Recraft V3 create-style)."),
                "enable_safety_checker": boolean("Enable Safety Checker", "", False),  # UNVERIFIED default
            },
            ["prompt"],
            _image_output("RecraftV3TextToImage"),
        ),
        "RGBColor": _RGB,
    },
    tags=("recraft", "vector", "typography"),
    unit_price=0.04,
    unit="image",
    typed_errors=True,
    date="2024-10-30T00:00:00Z",
)

PARTNER_MODELS: tuple[FalModel, ...] = (NANO_BANANA, FLUX_PRO_KONTEXT, RECRAFT_V3)
