"""fal video, audio and speech models the sandbox serves (real endpoint ids; schemas as in catalog_fal).

Bounds and defaults follow fal's published schemas as best known offline; prices are illustrative only.
"""

from __future__ import annotations

from genctl.sandbox.catalog import FalModel, Json, boolean, enum, integer, number, string
from genctl.sandbox.catalog_fal import file_output, model_schemas, prompt_field

KLING_21_MASTER = FalModel(
    endpoint_id="fal-ai/kling-video/v2.1/master/text-to-video",
    display_name="Kling 2.1 Master (text to video)",
    category="text-to-video",
    description="Kling 2.1 Master: top-tier text-to-video with unparalleled motion fluidity.",
    kind="video",
    schema_prefix="KlingV21MasterTextToVideo",
    schemas=model_schemas(
        "KlingV21MasterTextToVideo",
        {
            "prompt": prompt_field("The prompt to generate the video from."),
            "duration": enum("Duration", ["5", "10"], "5", "The duration of the generated video in seconds."),
            "aspect_ratio": enum("Aspect Ratio", ["16:9", "9:16", "1:1"], "16:9"),
            "negative_prompt": string("Negative Prompt", "", "blur, distort, and low quality"),
            "cfg_scale": number("Cfg Scale", "", 0.5, 0, 1),
        },
        ["prompt"],
        file_output("KlingV21MasterTextToVideo", "video"),
    ),
    tags=("video", "kling"),
    unit_price=0.28,
    unit="second",
    date="2025-05-29T00:00:00Z",
)

MINIMAX_VIDEO_01 = FalModel(
    endpoint_id="fal-ai/minimax/video-01",
    display_name="MiniMax (Hailuo AI) Video 01",
    category="text-to-video",
    description="Generate 6-second videos from text prompts with MiniMax Hailuo.",
    kind="video",
    schema_prefix="MinimaxVideo01",
    schemas=model_schemas(
        "MinimaxVideo01",
        {
            "prompt": prompt_field("The prompt to generate the video from."),
            "prompt_optimizer": boolean("Prompt Optimizer", "Use the model's prompt optimizer.", True),
        },
        ["prompt"],
        file_output("MinimaxVideo01", "video"),
    ),
    tags=("video",),
    unit_price=0.5,
    unit="video",
    date="2024-10-15T00:00:00Z",
)

STABLE_AUDIO = FalModel(
    endpoint_id="fal-ai/stable-audio",
    display_name="Stable Audio Open",
    category="text-to-audio",
    description="Open source text-to-audio model from Stability AI.",
    kind="audio",
    schema_prefix="StableAudio",
    schemas=model_schemas(
        "StableAudio",
        {
            "prompt": prompt_field("The prompt to generate audio from."),
            "seconds_start": integer("Seconds Start", "The start point of the audio clip.", 0, 0, 47),
            "seconds_total": integer("Seconds Total", "The duration of the audio clip.", 30, 0, 47),
            "steps": integer("Steps", "The number of steps to denoise the audio for.", 100, 1, 1000),
        },
        ["prompt"],
        file_output("StableAudio", "audio_file"),
    ),
    tags=("audio", "music"),
    unit_price=0.0,
    unit="compute seconds",
    date="2024-06-05T00:00:00Z",
)

ELEVENLABS_TTS = FalModel(
    endpoint_id="fal-ai/elevenlabs/tts/multilingual-v2",
    display_name="ElevenLabs TTS Multilingual v2",
    category="text-to-speech",
    description="Generate multilingual text-to-speech audio using ElevenLabs Multilingual v2.",
    kind="speech",
    schema_prefix="ElevenlabsTtsMultilingualV2",
    schemas=model_schemas(
        "ElevenlabsTtsMultilingualV2",
        {
            "text": string("Text", "The text to convert to speech."),
            "voice": string("Voice", "The voice to use for speech generation.", "Rachel"),
            "stability": number("Stability", "Voice stability (0-1).", 0.5, 0, 1),
            "similarity_boost": number("Similarity Boost", "", 0.75, 0, 1),
            "style": number("Style", "", 0.0, 0, 1),
            "speed": number("Speed", "", 1.0, 0.7, 1.2),
        },
        ["text"],
        file_output("ElevenlabsTtsMultilingualV2", "audio"),
    ),
    tags=("speech", "tts"),
    unit_price=0.1,
    unit="1000 characters",
    date="2025-02-10T00:00:00Z",
)


def _veo_fields() -> dict[str, Json]:
    """Veo 3.1's text-to-video input, as fal.ai/models/fal-ai/veo3.1/llms.txt publishes it; the /fast
    variant takes the same fields (fal's Veo 3.1 Fast page, mirrored on docs.runflow.io)."""
    return {
        "prompt": prompt_field("The text prompt describing the video you want to generate."),
        "aspect_ratio": enum(
            "Aspect Ratio", ["16:9", "9:16"], "16:9", "Aspect ratio of the generated video."
        ),
        "duration": enum("Duration", ["4s", "6s", "8s"], "8s", "The duration of the generated video."),
        "negative_prompt": string("Negative Prompt", "A negative prompt to guide the video generation."),
        "resolution": enum("Resolution", ["720p", "1080p", "4k"], "720p", "The resolution of the video."),
        "generate_audio": boolean("Generate Audio", "Whether to generate audio for the video.", True),
        "seed": integer("Seed", "The seed for the random number generator."),
        "auto_fix": boolean("Auto Fix", "Rewrite prompts that fail content policy checks.", True),
        "safety_tolerance": enum("Safety Tolerance", ["1", "2", "3", "4", "5", "6"], "4"),
    }


VEO_31 = FalModel(
    endpoint_id="fal-ai/veo3.1",
    display_name="Veo 3.1",
    category="text-to-video",
    description="Veo 3.1 by Google, the most advanced AI video generation model in the world. With sound on!",
    kind="video",
    schema_prefix="Veo31TextToVideo",
    schemas=model_schemas(
        "Veo31TextToVideo", _veo_fields(), ["prompt"], file_output("Veo31TextToVideo", "video")
    ),
    tags=("video", "google", "audio"),
    unit_price=0.4,  # the page: $0.40 a second with audio at 720p/1080p
    unit="second",
    typed_errors=True,
    date="2025-10-15T00:00:00Z",
)

VEO_31_FAST = FalModel(
    endpoint_id="fal-ai/veo3.1/fast",
    display_name="Veo 3.1 Fast",
    category="text-to-video",
    description="Faster and more cost effective version of Google's Veo 3.1!",
    kind="video",
    schema_prefix="Veo31FastTextToVideo",
    schemas=model_schemas(
        "Veo31FastTextToVideo", _veo_fields(), ["prompt"], file_output("Veo31FastTextToVideo", "video")
    ),
    tags=("video", "google", "audio", "fast"),
    unit_price=0.15,
    unit="second",
    typed_errors=True,
    date="2025-10-15T00:00:00Z",
)


AV_MODELS: tuple[FalModel, ...] = (
    KLING_21_MASTER,
    MINIMAX_VIDEO_01,
    STABLE_AUDIO,
    ELEVENLABS_TTS,
    VEO_31,
    VEO_31_FAST,
)
