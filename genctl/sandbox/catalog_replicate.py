"""Replicate models and collections the sandbox serves, with Cog-style OpenAPI version schemas.

Model refs are real. The sdxl, musicgen and zeroscope version ids are the well-known public ones; the
official models' version ids are synthesised (sha256 of the ref) because their real ids are hidden.
Input fields follow the published schemas as best known offline (UNVERIFIED: bounds and defaults).
"""

from __future__ import annotations

import hashlib

from genctl.sandbox.catalog import (
    Collection,
    Json,
    ReplicateModel,
    ReplicateVersion,
    boolean,
    cog_enum,
    cog_input,
    integer,
    number,
    ref_field,
    string,
)

# Output size per aspect ratio at 1 megapixel (Replicate's FLUX models); 0.25 MP halves each side.
ASPECT_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "21:9": (1536, 640),
    "3:2": (1216, 832),
    "2:3": (832, 1216),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "3:4": (896, 1152),
    "4:3": (1152, 896),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}

_URI_LIST: Json = {"type": "array", "items": {"type": "string", "format": "uri"}, "title": "Output"}
_URI: Json = {"type": "string", "format": "uri", "title": "Output"}
_TEXT_STREAM: Json = {
    "type": "array",
    "items": {"type": "string"},
    "title": "Output",
    "x-cog-array-type": "iterator",
    "x-cog-array-display": "concatenate",
}


def _synthetic_id(ref: str) -> str:
    return hashlib.sha256(f"sandbox-version:{ref}".encode()).hexdigest()


def _openapi(inputs: Json, output: Json, enums: dict[str, list[str]]) -> Json:
    """A trimmed Cog OpenAPI document: Input, Output and the enum components Input refers to."""
    schemas: Json = {"Input": inputs, "Output": output}
    schemas.update({name: cog_enum(name, values) for name, values in enums.items()})
    schemas["Status"] = cog_enum("Status", ["starting", "processing", "succeeded", "canceled", "failed"])
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": {
            "/predictions": {
                "post": {
                    "summary": "Predict",
                    "operationId": "predict_predictions_post",
                    "requestBody": {
                        "content": {"application/json": {"schema": {"title": "PredictionRequest"}}}
                    },
                }
            }
        },
        "components": {"schemas": schemas},
    }


def _version(version_id: str, created_at: str, schema: Json) -> ReplicateVersion:
    return ReplicateVersion(id=version_id, created_at=created_at, openapi_schema=schema)


_FLUX_ENUMS = {
    "aspect_ratio": list(ASPECT_SIZES),
    "output_format": ["webp", "jpg", "png"],
    "megapixels": ["1", "0.25"],
}


def _flux_tail(steps: Json) -> dict[str, Json]:
    return {
        "num_outputs": integer("Num Outputs", "Number of outputs to generate", 1, 1, 4),
        "num_inference_steps": steps,
        "seed": integer("Seed", "Random seed. Set for reproducible generation"),
        "output_format": ref_field("output_format", "output_format", "webp", "Format of the output images"),
        "output_quality": integer("Output Quality", "Quality when saving the output images", 80, 0, 100),
        "disable_safety_checker": boolean("Disable Safety Checker", "Disable safety checker", False),
        "go_fast": boolean("Go Fast", "Run faster predictions with an fp8 quantized model", True),
        "megapixels": ref_field("megapixels", "megapixels", "1", "Approximate number of megapixels"),
    }


_PROMPT = string("Prompt", "Prompt for generated image")
_ASPECT = ref_field("aspect_ratio", "aspect_ratio", "1:1", "Aspect ratio for the generated image")

FLUX_SCHNELL = ReplicateModel(
    owner="black-forest-labs",
    name="flux-schnell",
    description="The fastest image generation model tailored for local development and personal use",
    kind="image",
    official=True,
    versions=(
        _version(
            _synthetic_id("black-forest-labs/flux-schnell"),
            "2024-10-08T18:24:19.238316Z",
            _openapi(
                cog_input(
                    {
                        "prompt": _PROMPT,
                        "aspect_ratio": _ASPECT,
                        **_flux_tail(integer("Num Inference Steps", "Number of denoising steps.", 4, 1, 4)),
                    },
                    ["prompt"],
                ),
                _URI_LIST,
                _FLUX_ENUMS,
            ),
        ),
    ),
    run_count=512_000_000,
    collections=("text-to-image",),
    tags=("text-to-image", "flux"),
    license_url="https://github.com/black-forest-labs/flux/blob/main/model_licenses/LICENSE-FLUX1-schnell",
)

FLUX_DEV = ReplicateModel(
    owner="black-forest-labs",
    name="flux-dev",
    description="A 12 billion parameter rectified flow transformer capable of generating images from text",
    kind="image",
    official=True,
    versions=(
        _version(
            _synthetic_id("black-forest-labs/flux-dev"),
            "2024-10-08T18:21:06.574221Z",
            _openapi(
                cog_input(
                    {
                        "prompt": _PROMPT,
                        "aspect_ratio": _ASPECT,
                        "image": string("Image", "Input image for image to image mode", format="uri"),
                        "prompt_strength": number(
                            "Prompt Strength", "Prompt strength for img2img", 0.8, 0, 1
                        ),
                        **_flux_tail(integer("Num Inference Steps", "Number of denoising steps.", 28, 1, 50)),
                        "guidance": number("Guidance", "Guidance for generated image", 3, 0, 10),
                    },
                    ["prompt"],
                ),
                _URI_LIST,
                _FLUX_ENUMS,
            ),
        ),
    ),
    run_count=27_000_000,
    collections=("text-to-image",),
    tags=("text-to-image", "flux"),
)

SDXL_VERSION = "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"

SDXL = ReplicateModel(
    owner="stability-ai",
    name="sdxl",
    description="A text-to-image generative AI model that creates beautiful images",
    kind="image",
    official=False,
    versions=(
        _version(
            SDXL_VERSION,
            "2023-11-06T23:13:07.906314Z",
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "Input prompt", "An astronaut riding a rainbow unicorn"),
                        "negative_prompt": string("Negative Prompt", "Input Negative Prompt", ""),
                        "image": string("Image", "Input image for img2img or inpaint mode", format="uri"),
                        "width": integer("Width", "Width of output image", 1024),
                        "height": integer("Height", "Height of output image", 1024),
                        "num_outputs": integer("Num Outputs", "Number of images to output.", 1, 1, 4),
                        "scheduler": ref_field("scheduler", "scheduler", "K_EULER", "scheduler"),
                        "num_inference_steps": integer(
                            "Num Inference Steps", "Number of denoising steps", 50, 1, 500
                        ),
                        "guidance_scale": number(
                            "Guidance Scale", "Scale for classifier-free guidance", 7.5, 1, 50
                        ),
                        "seed": integer("Seed", "Random seed. Leave blank to randomize the seed"),
                        "refine": ref_field("refine", "refine", "no_refiner", "Which refine style to use"),
                        "apply_watermark": boolean("Apply Watermark", "Applies a watermark", True),
                    },
                    [],
                ),
                _URI_LIST,
                {
                    "scheduler": [
                        "DDIM",
                        "DPMSolverMultistep",
                        "HeunDiscrete",
                        "KarrasDPM",
                        "K_EULER_ANCESTRAL",
                        "K_EULER",
                        "PNDM",
                    ],
                    "refine": ["no_refiner", "expert_ensemble_refiner", "base_image_refiner"],
                },
            ),
        ),
    ),
    run_count=80_000_000,
    collections=("text-to-image",),
    tags=("text-to-image", "stable-diffusion"),
    github_url="https://github.com/replicate/cog-sdxl",
    paper_url="https://arxiv.org/abs/2307.01952",
)

MUSICGEN = ReplicateModel(
    owner="meta",
    name="musicgen",
    description="Generate music from a prompt or melody",
    kind="audio",
    official=False,
    versions=(
        _version(
            "671ac645ce5e552cc63a54a2bbff63fcf798043055d2dac5fc9e36a837eedcfb",
            "2024-03-11T20:00:14.196361Z",
            _openapi(
                cog_input(
                    {
                        "model_version": ref_field("model_version", "model_version", "stereo-melody-large"),
                        "prompt": string("Prompt", "A description of the music you want to generate."),
                        "input_audio": string(
                            "Input Audio", "An audio file that will influence the music.", format="uri"
                        ),
                        "duration": integer(
                            "Duration", "Duration of the generated audio in seconds.", 8, 1, 30
                        ),
                        "output_format": ref_field("output_format", "output_format", "wav", "Output format"),
                        "seed": integer("Seed", "Seed for random number generator."),
                    },
                    [],
                ),
                _URI,
                {
                    "model_version": ["stereo-melody-large", "stereo-large", "melody-large", "large"],
                    "output_format": ["wav", "mp3"],
                },
            ),
        ),
    ),
    run_count=2_700_000,
    collections=("text-to-audio",),
    tags=("text-to-audio", "music"),
    output_shape="single",
    github_url="https://github.com/facebookresearch/audiocraft",
)

ZEROSCOPE = ReplicateModel(
    owner="anotherjesse",
    name="zeroscope-v2-xl",
    description="Zeroscope V2 XL & 576w",
    kind="video",
    official=False,
    versions=(
        _version(
            "9f747673945c62801b13b84701c783929c0ee784e4748ec062204894dda1a351",
            "2023-07-04T16:34:26.497826Z",
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "Input prompt", "An astronaut riding a horse"),
                        "negative_prompt": string("Negative Prompt", "Negative prompt"),
                        "num_frames": integer(
                            "Num Frames", "Number of frames for the output video", 24, 1, 100
                        ),
                        "width": integer("Width", "Width of the output video", 576, 256),
                        "height": integer("Height", "Height of the output video", 320, 256),
                        "fps": integer("Fps", "fps for the output video", 8),
                        "model": ref_field("model", "model", "xl", "Model to use"),
                        "seed": integer("Seed", "Random seed. Leave blank to randomize the seed"),
                    },
                    [],
                ),
                _URI_LIST,
                {"model": ["xl", "576w", "potat1", "animov-512x"]},
            ),
        ),
    ),
    run_count=300_000,
    collections=("text-to-video",),
    tags=("text-to-video",),
)

MINIMAX_VIDEO = ReplicateModel(
    owner="minimax",
    name="video-01",
    description="Generate 6s videos with prompts or images. (Also known as Hailuo)",
    kind="video",
    official=True,
    versions=(
        _version(
            _synthetic_id("minimax/video-01"),
            "2024-11-20T12:00:00.000000Z",
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "Text prompt for generation"),
                        "prompt_optimizer": boolean("Prompt Optimizer", "Use prompt optimizer", True),
                        "first_frame_image": string("First Frame Image", "First frame image", format="uri"),
                    },
                    ["prompt"],
                ),
                _URI,
                {},
            ),
        ),
    ),
    run_count=1_200_000,
    collections=("text-to-video",),
    tags=("text-to-video",),
    output_shape="single",
)

LLAMA3_8B = ReplicateModel(
    owner="meta",
    name="meta-llama-3-8b-instruct",
    description="An 8 billion parameter language model from Meta, fine tuned for chat completions",
    kind="text",
    official=True,
    versions=(
        _version(
            _synthetic_id("meta/meta-llama-3-8b-instruct"),
            "2024-04-17T21:44:13.482758Z",
            _openapi(
                cog_input(
                    {
                        "prompt": string("Prompt", "Prompt to send to the model.", ""),
                        "system_prompt": string(
                            "System Prompt", "System prompt", "You are a helpful assistant"
                        ),
                        "max_tokens": integer("Max Tokens", "Maximum number of tokens to generate.", 512, 1),
                        "min_tokens": integer("Min Tokens", "Minimum number of tokens to generate.", 0, -1),
                        "temperature": number("Temperature", "Randomness of outputs.", 0.6, 0, 5),
                        "top_p": number("Top P", "Nucleus sampling.", 0.9, 0, 1),
                        "seed": integer("Seed", "Random seed. Leave blank to randomize the seed"),
                    },
                    [],
                ),
                _TEXT_STREAM,
                {},
            ),
        ),
    ),
    run_count=600_000_000,
    collections=("language-models",),
    tags=("language-model", "llm"),
    output_shape="text_list",
)

REPLICATE_MODELS: tuple[ReplicateModel, ...] = (
    FLUX_SCHNELL,
    FLUX_DEV,
    SDXL,
    MUSICGEN,
    ZEROSCOPE,
    MINIMAX_VIDEO,
    LLAMA3_8B,
)

COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "text-to-image",
        "Generate images",
        "Models that generate images from text prompts",
        ("black-forest-labs/flux-schnell", "black-forest-labs/flux-dev", "stability-ai/sdxl"),
    ),
    Collection(
        "text-to-video",
        "Generate videos",
        "Models that create and edit videos",
        ("minimax/video-01", "anotherjesse/zeroscope-v2-xl"),
    ),
    Collection("text-to-audio", "Generate music", "Models that generate music and sound", ("meta/musicgen",)),
    Collection(
        "language-models",
        "Language models",
        "Models that understand and generate text",
        ("meta/meta-llama-3-8b-instruct",),
    ),
)
