"""Official Replicate video models the built-in aliases name (google's Veo 3.1, kwaivgi's Kling 2.1).

Sources are cited per model, as in catalog_replicate_official (whose builders these share).
"""

from __future__ import annotations

from genctl.sandbox.catalog import Json, ReplicateModel, boolean, cog_input, integer, ref_field, string
from genctl.sandbox.catalog_replicate import _URI, _openapi
from genctl.sandbox.catalog_replicate_official import image_list, image_uri, official, with_int_enums


def _veo(reference_images: bool) -> Json:
    fields: dict[str, Json] = {
        "prompt": string("Prompt", "Text prompt for video generation"),
        "aspect_ratio": ref_field("aspect_ratio", "aspect_ratio", "16:9", "Video aspect ratio"),
        "duration": ref_field("duration", "duration", 8, "Video duration in seconds"),
        "image": image_uri(
            "Image", "Input image to start generating from (16:9 or 9:16, 1280x720 or 720x1280)"
        ),
        "last_frame": image_uri("Last Frame", "Ending image for interpolation (with an input image)."),
    }
    if reference_images:
        fields["reference_images"] = image_list(
            "Reference Images", "1 to 3 reference images for subject-consistent generation (16:9, 8 s)"
        )
    fields |= {
        "negative_prompt": string(
            "Negative Prompt", "Description of what to exclude from the generated video"
        ),
        "resolution": ref_field("resolution", "resolution", "1080p", "Resolution of the generated video"),
        "generate_audio": boolean("Generate Audio", "Generate audio with the video", True),
        "seed": integer("Seed", "Random seed. Omit for random generations"),
    }
    schema = _openapi(
        cog_input(fields, ["prompt"]),
        _URI,
        {"aspect_ratio": ["16:9", "9:16"], "resolution": ["720p", "1080p"]},
    )
    return with_int_enums(schema, {"duration": [4, 6, 8]})


# replicate.com/google/veo-3.1/versions/ed5b1767…/api (model page: every field). UNVERIFIED: the choices
# of aspect_ratio, duration and resolution (the page shows only defaults; these are core.today's).
VEO_31 = official(
    "google/veo-3.1",
    "New and improved version of Veo 3, with higher-fidelity video, context-aware audio, reference image "
    "and last frame support",
    "video",
    [
        (
            "ed5b1767b711dd15d954b162af1e890d27882680f463a85e94f02d604012b972",
            "2025-10-15T16:02:44.000000Z",
            _veo(True),
        )
    ],
    run_count=1_100_000,
    collections=("text-to-video",),
    tags=("text-to-video", "google", "audio"),
)

# UNVERIFIED: modelled on google/veo-3.1 (above) without reference_images, as replicate.com's
# google/veo-3-fast page is to google/veo-3; public code calls google/veo-3.1-fast with durations 4/6/8.
VEO_31_FAST = official(
    "google/veo-3.1-fast",
    "New and improved version of Veo 3 Fast, with higher-fidelity video, context-aware audio and last frame "
    "support",
    "video",
    [("", "2025-10-15T16:05:10.000000Z", _veo(False))],
    run_count=2_300_000,
    collections=("text-to-video",),
    tags=("text-to-video", "google", "audio", "fast"),
)

# UNVERIFIED: no replicate.com page at hand. Fields from public code listing this model's Replicate schema
# (prompt*, aspect_ratio [16:9, 9:16, 1:1], duration [5, 10], negative_prompt, start_image), shaped like
# replicate.com/kwaivgi/kling-v2.0/versions/c17ab6fb…/api (its defaults and descriptions).
KLING_21_MASTER = official(
    "kwaivgi/kling-v2.1-master",
    "A premium version of Kling v2.1 with superb dynamics and prompt adherence. Generate 1080p 5s and 10s "
    "videos from text or an image",
    "video",
    [
        (
            "",
            "2025-06-03T10:41:27.000000Z",
            with_int_enums(
                _openapi(
                    cog_input(
                        {
                            "prompt": string("Prompt", "Text prompt for video generation"),
                            "negative_prompt": string("Negative Prompt", "Things you do not want to see", ""),
                            "aspect_ratio": ref_field(
                                "aspect_ratio", "aspect_ratio", "16:9", "Ignored if start_image is provided."
                            ),
                            "start_image": image_uri("Start Image", "First frame of the video (optional)"),
                            "duration": ref_field(
                                "duration", "duration", 5, "Duration of the video in seconds"
                            ),
                        },
                        ["prompt"],
                    ),
                    _URI,
                    {"aspect_ratio": ["16:9", "9:16", "1:1"]},
                ),
                {"duration": [5, 10]},
            ),
        )
    ],
    run_count=900_000,
    collections=("text-to-video",),
    tags=("text-to-video", "image-to-video", "kling"),
)

OFFICIAL_VIDEO_MODELS: tuple[ReplicateModel, ...] = (VEO_31, VEO_31_FAST, KLING_21_MASTER)
