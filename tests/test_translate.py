"""Translating inputs between providers, pure: the knobs renamed and converted against the target's schema."""

from __future__ import annotations

from typing import Any

import pytest

from genctl.errors import GenctlError
from genctl.providers.schema import InputSchema, parse_input_schema
from genctl.sandbox.catalog import fal_model, replicate_model
from genctl.translate import translate


def fal_schema(endpoint_id: str) -> InputSchema:
    model = fal_model(endpoint_id)
    assert model is not None
    return parse_input_schema(model.input_schema, model.schemas)


def replicate_schema(ref: str) -> InputSchema:
    model = replicate_model(*ref.split(":")[0].split("/"))
    assert model is not None
    components = model.latest.openapi_schema["components"]["schemas"]
    return parse_input_schema(components["Input"], components)


def to_replicate(
    params: dict[str, Any], ref: str = "black-forest-labs/flux-dev", **kw: Any
) -> dict[str, Any]:
    schema = kw.pop("schema", replicate_schema(ref))
    return translate(params, provider="replicate", model=ref, schema=schema, **kw)


def to_fal(params: dict[str, Any], endpoint: str = "fal-ai/flux/dev", **kw: Any) -> dict[str, Any]:
    schema = kw.pop("schema", fal_schema(endpoint))
    return translate(params, provider="fal", model=endpoint, schema=schema, **kw)


def failure(call: Any) -> GenctlError:
    with pytest.raises(GenctlError) as caught:
        call()
    assert caught.value.code == "payload.invalid" and caught.value.exit_code == 5
    return caught.value


# -- fal -> Replicate --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "ratio"),
    [
        ("square_hd", "1:1"),
        ("square", "1:1"),
        ("portrait_4_3", "3:4"),
        ("portrait_16_9", "9:16"),
        ("landscape_4_3", "4:3"),
        ("landscape_16_9", "16:9"),
    ],
)
def test_every_fal_preset_becomes_a_replicate_aspect_ratio(preset: str, ratio: str) -> None:
    assert to_replicate({"prompt": "a fox", "image_size": preset}) == {
        "prompt": "a fox",
        "aspect_ratio": ratio,
    }


def test_the_common_knobs_are_renamed_for_replicate_flux_dev() -> None:
    params = {
        "prompt": "a fox",
        "image_size": "landscape_16_9",
        "num_images": 2,
        "seed": 7,
        "num_inference_steps": 20,
        "guidance_scale": 3.5,
        "output_format": "jpeg",
    }
    assert to_replicate(params) == {
        "prompt": "a fox",
        "num_outputs": 2,
        "seed": 7,
        "num_inference_steps": 20,
        "guidance": 3.5,
        "output_format": "jpg",  # fal says jpeg, Replicate jpg
        "aspect_ratio": "16:9",
    }


def test_custom_pixels_with_a_ratio_replicate_lists_become_that_ratio() -> None:
    out = to_replicate({"prompt": "x", "image_size": {"width": 1920, "height": 1080}, "num_images": 2})
    assert out == {"prompt": "x", "num_outputs": 2, "aspect_ratio": "16:9"}


def test_pixels_whose_ratio_replicate_does_not_list_are_refused_naming_what_it_takes() -> None:
    err = failure(lambda: to_replicate({"prompt": "x", "image_size": {"width": 1000, "height": 700}}))
    assert err.provider == "replicate"
    assert err.message == (
        "black-forest-labs/flux-dev on Replicate cannot take this input: "
        'image_size={"width": 1000, "height": 700} (10:7): it takes the size as aspect_ratio, one of '
        "1:1, 16:9, 21:9, 3:2, 2:3, 4:5, 5:4, 3:4, 4:3, 9:16, 9:21"
    )
    assert err.fix.startswith("Nothing was sent.")
    assert err.details["fields"][0]["field"] == "image_size"


def test_sdxl_on_replicate_takes_pixels_and_guidance_scale() -> None:
    ref = "stability-ai/sdxl:39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"
    out = to_replicate({"prompt": "x", "image_size": "landscape_16_9", "guidance": 5, "num_images": 3}, ref)
    assert out == {"prompt": "x", "guidance_scale": 5, "num_outputs": 3, "width": 1024, "height": 576}


def test_a_knob_the_target_has_no_input_for_is_refused() -> None:
    err = failure(
        lambda: to_replicate({"prompt": "x", "guidance_scale": 2}, "black-forest-labs/flux-schnell")
    )
    assert "guidance_scale: it has no guidance input" in err.message
    assert err.details["fields"][0]["allowed"].startswith("one of prompt, aspect_ratio")


def test_an_output_format_the_target_does_not_list_is_refused() -> None:
    err = failure(lambda: to_fal({"prompt": "x", "output_format": "webp"}))
    assert err.message.endswith('output_format="webp": it accepts jpeg, png')


def test_a_knob_given_under_both_names_is_refused() -> None:
    err = failure(lambda: to_replicate({"prompt": "x", "num_images": 2, "num_outputs": 3}))
    assert "num_images: it is num_outputs there, which is also given; give it once" in err.message


def test_a_size_given_twice_is_refused() -> None:
    err = failure(lambda: to_replicate({"prompt": "x", "image_size": "square", "aspect_ratio": "1:1"}))
    assert "image_size: the size is also given as aspect_ratio; give it once" in err.message


def test_other_inputs_pass_through_as_written() -> None:
    assert to_replicate({"prompt": "x", "go_fast": False, "acceleration": "high"}) == {
        "prompt": "x",
        "go_fast": False,
        "acceleration": "high",  # not a knob: the pre-flight check judges it against the schema
    }


# -- Replicate -> fal --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("16:9", "landscape_16_9"),
        ("9:16", "portrait_16_9"),
        ("4:3", "landscape_4_3"),
        ("3:4", "portrait_4_3"),
        ("1:1", "square_hd"),
        ("21:9", {"width": 1536, "height": 640}),
        ("3:2", {"width": 1280, "height": 832}),
    ],
)
def test_replicate_aspect_ratios_become_fal_image_sizes(ratio: str, size: Any) -> None:
    assert to_fal({"prompt": "x", "aspect_ratio": ratio}) == {"prompt": "x", "image_size": size}


def test_the_common_knobs_are_renamed_for_fal() -> None:
    params = {
        "prompt": "x",
        "num_outputs": 2,
        "guidance": 4,
        "output_format": "jpg",
        "width": 800,
        "height": 600,
    }
    assert to_fal(params) == {
        "prompt": "x",
        "num_images": 2,
        "guidance_scale": 4,
        "output_format": "jpeg",
        "image_size": {"width": 800, "height": 600},
    }


def test_fal_ultra_takes_an_aspect_ratio_itself() -> None:
    out = to_fal({"prompt": "x", "image_size": "landscape_16_9"}, "fal-ai/flux-pro/v1.1-ultra")
    assert out == {"prompt": "x", "aspect_ratio": "16:9"}
    # Its aspect_ratio also takes any string, so a ratio it does not list goes as it is.
    assert (
        to_fal({"prompt": "x", "aspect_ratio": "5:4"}, "fal-ai/flux-pro/v1.1-ultra")["aspect_ratio"] == "5:4"
    )


def test_fast_sdxl_calls_its_output_format_format() -> None:
    assert to_fal({"prompt": "x", "output_format": "png"}, "fal-ai/fast-sdxl") == {
        "prompt": "x",
        "format": "png",
    }


def test_a_replicate_only_aspect_ratio_value_is_refused() -> None:
    err = failure(lambda: to_fal({"prompt": "x", "aspect_ratio": "custom"}))
    assert 'aspect_ratio="custom" has no meaning elsewhere: give W:H' in err.message


def test_half_a_size_is_refused() -> None:
    err = failure(lambda: to_fal({"prompt": "x", "width": 800}))
    assert "width: give both width and height" in err.message


# -- without a schema, and the alias's parameter map -------------------------------------------------------


def test_without_a_schema_only_the_other_providers_usual_names_change() -> None:
    out = translate(
        {"prompt": "x", "image_size": "landscape_4_3", "num_images": 2, "guidance_scale": 3, "format": "png"},
        provider="replicate",
        model="owner/model",
        schema=None,
    )
    assert out == {"prompt": "x", "num_outputs": 2, "guidance": 3, "format": "png", "aspect_ratio": "4:3"}
    assert translate({"aspect_ratio": "16:9"}, provider="fal", model="a/b", schema=None) == {
        "aspect_ratio": "16:9"  # fal's video models take aspect_ratio themselves
    }
    assert translate({"width": 640, "height": 480}, provider="fal", model="a/b", schema=None) == {
        "image_size": {"width": 640, "height": 480}
    }


def test_the_alias_parameter_map_renames_and_decides_without_a_schema() -> None:
    renames = {"guidance": "guidance_scale", "image_url": "input_image"}
    out = translate(
        {"prompt": "x", "guidance": 3, "image_url": "https://x/y.png"},
        provider="replicate",
        model="owner/model",
        schema=None,
        renames=renames,
    )
    assert out == {"prompt": "x", "guidance_scale": 3, "input_image": "https://x/y.png"}
