"""fal image models the sandbox serves, and the schema helpers all fal models share.

Ids are real (fal-api.md §6.1). Field names, bounds and defaults follow fal's published schemas as best
known offline; schema *component names* ("FluxDevInput") and exact bounds are UNVERIFIED. Prices are
illustrative only.
"""

from __future__ import annotations

from genctl.sandbox.catalog import (
    FalModel,
    Json,
    boolean,
    enum,
    fal_object,
    integer,
    number,
    ref,
    ref_field,
    string,
)

IMAGE_SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}

# FLUX1.1 [pro] ultra renders ~4 MP at a fixed set of aspect ratios.
ULTRA_SIZES: dict[str, tuple[int, int]] = {
    "21:9": (3136, 1344),
    "16:9": (2752, 1536),
    "4:3": (2368, 1792),
    "3:2": (2496, 1664),
    "1:1": (2048, 2048),
    "2:3": (1664, 2496),
    "3:4": (1792, 2368),
    "9:16": (1536, 2752),
    "9:21": (1344, 3136),
}

_SHARED: Json = {
    "ImageSize": fal_object(
        "ImageSize",
        {
            "width": integer("Width", "The width of the generated image.", 512, 1, 14142),
            "height": integer("Height", "The height of the generated image.", 512, 1, 14142),
        },
        [],
    ),
    "Image": fal_object(
        "Image",
        {
            "url": string("Url"),
            "width": integer("Width"),
            "height": integer("Height"),
            "content_type": string("Content Type", default="image/jpeg"),
        },
        ["url", "width", "height"],
    ),
    "File": fal_object(
        "File",
        {
            "url": string("Url", "The URL where the file can be downloaded from."),
            "content_type": string("Content Type", "The mime type of the file."),
            "file_name": string("File Name", "The name of the file."),
            "file_size": integer("File Size", "The size of the file in bytes."),
        },
        ["url"],
    ),
    "SafetyTolerance": enum("SafetyTolerance", ["1", "2", "3", "4", "5", "6"]),
}


def prompt_field(description: str = "The prompt to generate an image from.") -> Json:
    return string("Prompt", description, examples=["a cat wearing a tiny wizard hat, studio lighting"])


def _image_size(default: str) -> Json:
    return {
        "title": "Image Size",
        "description": "The size of the generated image.",
        "default": default,
        "anyOf": [ref("ImageSize"), {"type": "string", "enum": list(IMAGE_SIZE_PRESETS)}],
    }


def _common_image(steps: Json | None, images_max: int = 4) -> dict[str, Json]:
    common: dict[str, Json] = {"num_inference_steps": steps} if steps is not None else {}
    return {
        **common,
        "seed": integer("Seed", "The same seed and prompt will output the same image every time."),
        "sync_mode": boolean("Sync Mode", "Wait for the image to be uploaded before returning.", False),
        "num_images": integer("Num Images", "The number of images to generate.", 1, 1, images_max),
        "enable_safety_checker": boolean("Enable Safety Checker", "", True),
    }


def _image_output(name: str) -> Json:
    return fal_object(
        f"{name}Output",
        {
            "images": {"title": "Images", "type": "array", "items": ref("Image")},
            "timings": {"title": "Timings", "type": "object"},
            "seed": integer("Seed"),
            "has_nsfw_concepts": {
                "title": "Has Nsfw Concepts",
                "type": "array",
                "items": {"type": "boolean"},
            },
            "prompt": string("Prompt"),
        },
        ["images", "timings", "seed", "has_nsfw_concepts", "prompt"],
    )


def file_output(name: str, field: str) -> Json:
    return fal_object(f"{name}Output", {field: ref("File")}, [field])


def model_schemas(name: str, props: dict[str, Json], required: list[str], output: Json) -> Json:
    return {f"{name}Input": fal_object(f"{name}Input", props, required), f"{name}Output": output, **_SHARED}


_OUTPUT_FORMAT = enum("Output Format", ["jpeg", "png"], "jpeg", "The format of the generated image.")

FLUX_DEV = FalModel(
    endpoint_id="fal-ai/flux/dev",
    display_name="FLUX.1 [dev]",
    category="text-to-image",
    description="FLUX.1 [dev], a 12 billion parameter flow transformer that generates images from text.",
    kind="image",
    schema_prefix="FluxDev",
    schemas=model_schemas(
        "FluxDev",
        {
            "prompt": prompt_field(),
            "image_size": _image_size("landscape_4_3"),
            **_common_image(integer("Num Inference Steps", "The number of inference steps.", 28, 1, 50)),
            "guidance_scale": number("Guidance scale (CFG)", "How closely to follow the prompt.", 3.5, 1, 20),
            "output_format": _OUTPUT_FORMAT,
            "acceleration": enum("Acceleration", ["none", "regular", "high"], "none"),
        },
        ["prompt"],
        _image_output("FluxDev"),
    ),
    tags=("flux", "fast", "high-quality"),
    unit_price=0.025,
    unit="image",
)

FLUX_DEV_I2I = FalModel(
    endpoint_id="fal-ai/flux/dev/image-to-image",
    display_name="FLUX.1 [dev] Image-to-Image",
    category="image-to-image",
    description="FLUX.1 [dev] image-to-image: transform an input image guided by a prompt.",
    kind="image",
    schema_prefix="FluxDevImageToImage",
    schemas=model_schemas(
        "FluxDevImageToImage",
        {
            "image_url": string("Image URL", "The URL of the image to transform.", format="uri"),
            "prompt": prompt_field(),
            "strength": number("Strength", "How much the input image is changed.", 0.95, 0.01, 1),
            **_common_image(integer("Num Inference Steps", "", 40, 10, 50)),
            "guidance_scale": number("Guidance scale (CFG)", "", 3.5, 1, 20),
            "output_format": _OUTPUT_FORMAT,
        },
        ["image_url", "prompt"],
        _image_output("FluxDevImageToImage"),
    ),
    tags=("flux", "image-editing"),
    unit_price=0.03,
    unit="megapixels",
)

FLUX_SCHNELL = FalModel(
    endpoint_id="fal-ai/flux/schnell",
    display_name="FLUX.1 [schnell]",
    category="text-to-image",
    description="FLUX.1 [schnell], a 12 billion parameter flow transformer for fast 1-4 step generation.",
    kind="image",
    schema_prefix="FluxSchnell",
    schemas=model_schemas(
        "FluxSchnell",
        {
            "prompt": prompt_field(),
            "image_size": _image_size("landscape_4_3"),
            **_common_image(integer("Num Inference Steps", "The number of inference steps.", 4, 1, 12)),
            "output_format": _OUTPUT_FORMAT,
            "acceleration": enum("Acceleration", ["none", "regular", "high"], "none"),
        },
        ["prompt"],
        _image_output("FluxSchnell"),
    ),
    tags=("flux", "fast", "turbo"),
    unit_price=0.003,
    unit="megapixels",
)

_PRO_SAFETY = ref_field(
    "Safety Tolerance", "SafetyTolerance", "2", "1 is the most strict and 6 the most permissive."
)

FLUX_PRO_ULTRA = FalModel(
    endpoint_id="fal-ai/flux-pro/v1.1-ultra",
    display_name="FLUX1.1 [pro] ultra",
    category="text-to-image",
    description="FLUX1.1 [pro] ultra: up to 4 megapixel images with improved photo realism.",
    kind="image",
    schema_prefix="FluxProUltra",
    schemas=model_schemas(
        "FluxProUltra",
        {
            "prompt": prompt_field(),
            "seed": integer("Seed"),
            "sync_mode": boolean("Sync Mode", "", False),
            "num_images": integer("Num Images", "The number of images to generate.", 1, 1, 4),
            "enable_safety_checker": boolean("Enable Safety Checker", "", True),
            "safety_tolerance": _PRO_SAFETY,
            "output_format": _OUTPUT_FORMAT,
            "aspect_ratio": {
                "title": "Aspect Ratio",
                "default": "16:9",
                "anyOf": [{"type": "string", "enum": list(ULTRA_SIZES)}, {"type": "string"}],
            },
            "raw": boolean("Raw", "Generate less processed, more natural-looking images.", False),
        },
        ["prompt"],
        _image_output("FluxProUltra"),
    ),
    tags=("flux", "pro", "high-resolution"),
    unit_price=0.06,
    unit="image",
    typed_errors=True,
    date="2024-11-06T00:00:00Z",
)

FLUX_PRO_11 = FalModel(
    endpoint_id="fal-ai/flux-pro/v1.1",
    display_name="FLUX1.1 [pro]",
    category="text-to-image",
    description="FLUX1.1 [pro]: faster, better FLUX Pro with excellent prompt adherence.",
    kind="image",
    schema_prefix="FluxPro11",
    schemas=model_schemas(
        "FluxPro11",
        {
            "prompt": prompt_field(),
            "image_size": _image_size("landscape_4_3"),
            "seed": integer("Seed"),
            "sync_mode": boolean("Sync Mode", "", False),
            "num_images": integer("Num Images", "", 1, 1, 4),
            "enable_safety_checker": boolean("Enable Safety Checker", "", True),
            "safety_tolerance": _PRO_SAFETY,
            "output_format": _OUTPUT_FORMAT,
        },
        ["prompt"],
        _image_output("FluxPro11"),
    ),
    tags=("flux", "pro"),
    unit_price=0.04,
    unit="megapixels",
    typed_errors=True,
    date="2024-10-02T00:00:00Z",
)

STABLE_CASCADE = FalModel(
    endpoint_id="fal-ai/stable-cascade",
    display_name="Stable Cascade",
    category="text-to-image",
    description="Stable Cascade: text-to-image on a smaller latent space (sandbox marks it deprecated).",
    kind="image",
    schema_prefix="StableCascade",
    schemas=model_schemas(
        "StableCascade",
        {
            "prompt": prompt_field(),
            "negative_prompt": string("Negative Prompt", "What to avoid in the image.", ""),
            "first_stage_steps": integer("First Stage Steps", "", 20, 4, 40),
            "second_stage_steps": integer("Second Stage Steps", "", 10, 4, 24),
            "guidance_scale": number("Guidance Scale", "", 4.0, 0, 20),
            "image_size": _image_size("square_hd"),
            **_common_image(None),
        },
        ["prompt"],
        _image_output("StableCascade"),
    ),
    tags=("stable-diffusion",),
    status="deprecated",  # a sandbox choice, so `status=deprecated` has something to find
    unit_price=0.0,
    unit="compute seconds",
    date="2024-02-13T00:00:00Z",
)

AURA_FLOW = FalModel(
    endpoint_id="fal-ai/aura-flow",
    display_name="AuraFlow",
    category="text-to-image",
    description="AuraFlow v0.3, an open-source flow-based text-to-image model.",
    kind="image",
    schema_prefix="AuraFlow",
    schemas=model_schemas(
        "AuraFlow",
        {
            "prompt": prompt_field(),
            "num_images": integer("Num Images", "", 1, 1, 2),
            "seed": integer("Seed"),
            "guidance_scale": number("Guidance Scale", "", 3.5, 0, 20),
            "num_inference_steps": integer("Num Inference Steps", "", 50, 20, 50),
            "expand_prompt": boolean("Expand Prompt", "", True),
            "sync_mode": boolean("Sync Mode", "", False),
        },
        ["prompt"],
        _image_output("AuraFlow"),
    ),
    tags=("open-source",),
    unit_price=0.0,
    unit="compute seconds",
    date="2024-07-12T00:00:00Z",
)

FAST_SDXL = FalModel(
    endpoint_id="fal-ai/fast-sdxl",
    display_name="Stable Diffusion XL",
    category="text-to-image",
    description="Run SDXL at the speed of light.",
    kind="image",
    schema_prefix="FastSdxl",
    schemas=model_schemas(
        "FastSdxl",
        {
            "prompt": prompt_field(),
            "negative_prompt": string("Negative Prompt", "", ""),
            "image_size": _image_size("square_hd"),
            **_common_image(integer("Num Inference Steps", "", 25, 1, 65), images_max=8),
            "guidance_scale": number("Guidance scale (CFG)", "", 7.5, 0, 20),
            "expand_prompt": boolean("Expand Prompt", "", False),
            "format": enum("Format", ["jpeg", "png"], "jpeg"),
        },
        ["prompt"],
        _image_output("FastSdxl"),
    ),
    tags=("stable-diffusion", "sdxl", "fast"),
    unit_price=0.0,
    unit="compute seconds",
    date="2023-11-01T00:00:00Z",
)

IMAGE_MODELS: tuple[FalModel, ...] = (
    FLUX_DEV,
    FLUX_DEV_I2I,
    FLUX_SCHNELL,
    FLUX_PRO_ULTRA,
    FLUX_PRO_11,
    STABLE_CASCADE,
    AURA_FLOW,
    FAST_SDXL,
)
