"""Input schemas, pure: `$ref`/`allOf`/`anyOf` resolved, the model's field order, and every params check."""

from __future__ import annotations

from typing import Any

import pytest

from genctl.catalog.schema_check import check_params, payload_error
from genctl.providers.schema import InputSchema, inline, parse_input_schema
from genctl.sandbox.catalog import fal_model, replicate_model


def fal_schema(endpoint_id: str) -> InputSchema:
    model = fal_model(endpoint_id)
    assert model is not None
    return parse_input_schema(model.input_schema, model.schemas)


def replicate_schema(ref: str) -> InputSchema:
    model = replicate_model(*ref.split("/"))
    assert model is not None
    components = model.latest.openapi_schema["components"]["schemas"]
    return parse_input_schema(components["Input"], components)


def check(schema: InputSchema, params: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], list[dict]]:
    coerced, problems = check_params(schema, params, **kwargs)
    return coerced, [p.to_json() for p in problems]


# -- resolving and ordering -------------------------------------------------------------------------------


def test_inline_resolves_refs_and_one_item_allof_keeping_the_outer_keys() -> None:
    components = {"scheduler": {"type": "string", "enum": ["DDIM", "K_EULER"], "title": "scheduler"}}
    prop = {"allOf": [{"$ref": "#/components/schemas/scheduler"}], "default": "K_EULER", "title": "Sched"}
    assert inline(prop, components) == {
        "type": "string",
        "enum": ["DDIM", "K_EULER"],
        "title": "Sched",
        "default": "K_EULER",
    }


def test_inline_stops_on_a_recursive_schema() -> None:
    components = {"Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}}}
    resolved = inline({"$ref": "#/components/schemas/Node"}, components)
    assert resolved["type"] == "object"  # no RecursionError; the depth limit leaves a $ref deep down


def test_replicate_fields_follow_x_order_with_enum_refs_resolved() -> None:
    schema = replicate_schema("stability-ai/sdxl")
    assert schema.names[:4] == ["prompt", "negative_prompt", "image", "width"]
    scheduler = schema.get("scheduler")
    assert scheduler is not None
    assert scheduler.type == "string"
    assert scheduler.default == "K_EULER"
    assert "K_EULER_ANCESTRAL" in scheduler.enum
    assert schema.get("image") is not None and schema.get("image").is_file  # type: ignore[union-attr]
    assert "$ref" not in str(schema.json_schema)


def test_fal_fields_follow_x_fal_order_and_anyof_is_described() -> None:
    schema = fal_schema("fal-ai/flux/dev")
    assert schema.names[:3] == ["prompt", "image_size", "num_inference_steps"]
    image_size = schema.get("image_size")
    assert image_size is not None
    assert image_size.type == "ImageSize | string"
    assert "square_hd" in image_size.enum
    assert [f.name for f in schema.fields if f.required] == ["prompt"]
    steps = schema.get("num_inference_steps")
    assert steps is not None and (steps.minimum, steps.maximum, steps.default) == (1, 50, 28)


def test_field_json_has_every_column() -> None:
    steps = fal_schema("fal-ai/flux/dev").get("num_images")
    assert steps is not None
    assert steps.to_json() == {
        "name": "num_images",
        "type": "integer",
        "required": False,
        "default": 1,
        "enum": None,
        "minimum": 1,
        "maximum": 4,
        "description": "The number of images to generate.",
        "format": None,
    }


# -- checking params --------------------------------------------------------------------------------------


def test_valid_params_pass_unchanged() -> None:
    params = {"prompt": "a fox", "num_images": 2, "image_size": "square_hd", "guidance_scale": 3}
    assert check(fal_schema("fal-ai/flux/dev"), params) == (params, [])


def test_unknown_parameter_suggests_the_closest_name() -> None:
    _, [problem] = check(fal_schema("fal-ai/flux/dev"), {"prompt": "a", "num_image": 2})
    assert problem["field"] == "num_image"
    assert problem["given"] == 2
    assert "num_images" in problem["allowed"]
    assert problem["message"] == "unknown parameter num_image; did you mean num_images?"


def test_unknown_parameter_suggests_a_name_that_contains_it() -> None:
    _, [problem] = check(fal_schema("fal-ai/flux/dev"), {"prompt": "a", "steps": 4})
    assert "did you mean num_inference_steps?" in problem["message"]


def test_prompt_for_a_model_that_takes_text_says_which_field() -> None:
    schema = fal_schema("fal-ai/elevenlabs/tts/multilingual-v2")
    _, problems = check(schema, {"prompt": "hello"}, sources={"prompt": "the PROMPT argument"})
    messages = [p["message"] for p in problems]
    assert (
        "unknown parameter prompt (from the PROMPT argument); this model takes its text as text"
        in messages[0]
    )
    assert messages[1].startswith("text is required (a string): add -p text=")


@pytest.mark.parametrize(
    ("params", "raw", "coerced"),
    [
        ({"num_images": 2.0}, {"num_images": "2.0"}, {"num_images": 2}),  # unambiguous integer
        ({"guidance_scale": 4}, {}, {"guidance_scale": 4}),  # an integer is a number
        ({"sync_mode": 1}, {"sync_mode": "1"}, {"sync_mode": True}),
        ({"sync_mode": "yes"}, {"sync_mode": "yes"}, {"sync_mode": True}),
        ({"seed": None}, {"seed": "null"}, {"seed": None}),  # null: not set
    ],
)
def test_coercion_where_unambiguous(params: dict, raw: dict, coerced: dict) -> None:
    schema = fal_schema("fal-ai/flux/dev")
    got, problems = check(schema, {"prompt": "a", **params}, raw=raw)
    assert problems == []
    assert got == {"prompt": "a", **coerced}


def test_a_string_enum_gets_back_exactly_what_was_typed() -> None:
    # -p duration=10 parses to the int 10; Kling's duration is the string "10" (and 10 would be refused).
    schema = fal_schema("fal-ai/kling-video/v2.1/master/text-to-video")
    got, problems = check(schema, {"prompt": "a", "duration": 10}, raw={"duration": "10"})
    assert (got["duration"], problems) == ("10", [])
    replicate = replicate_schema("black-forest-labs/flux-schnell")
    got, problems = check(replicate, {"prompt": "a", "megapixels": 0.25}, raw={"megapixels": "0.25"})
    assert (got["megapixels"], problems) == ("0.25", [])


def test_a_config_number_for_a_string_field_is_its_text() -> None:
    # [models."…"] duration = 5 in TOML: no -p text, so the number's own text.
    schema = fal_schema("fal-ai/kling-video/v2.1/master/text-to-video")
    got, problems = check(schema, {"prompt": "a", "duration": 5})
    assert (got["duration"], problems) == ("5", [])


def test_lists_and_objects_are_not_turned_into_text() -> None:
    schema = fal_schema("fal-ai/flux/dev")
    _, [problem] = check(schema, {"prompt": ["a", "b"]}, raw={"prompt": '["a","b"]'})
    assert problem["message"] == 'prompt: ["a", "b"] (a list) is the wrong type; allowed: a string'


@pytest.mark.parametrize(
    ("params", "field", "given", "allowed", "in_message"),
    [
        (
            {"num_images": "two"},
            "num_images",
            "two",
            "an integer from 1 to 4",
            '"two" (a string) is the wrong type',
        ),
        (
            {"num_images": 2.5},
            "num_images",
            2.5,
            "an integer from 1 to 4",
            "2.5 (a number) is the wrong type",
        ),
        ({"num_images": 9}, "num_images", 9, "an integer from 1 to 4", "9 is above the maximum"),
        ({"num_images": 0}, "num_images", 0, "an integer from 1 to 4", "0 is below the minimum"),
        ({"output_format": "gif"}, "output_format", "gif", 'one of "jpeg", "png"', '"gif" is not allowed'),
        ({"output_format": "jpg"}, "output_format", "jpg", 'one of "jpeg", "png"', 'did you mean "jpeg"?'),
        ({"sync_mode": "maybe"}, "sync_mode", "maybe", "true or false", "wrong type"),
        ({"image_size": "huge"}, "image_size", "huge", "square_hd", '"huge" is not allowed'),
        ({"image_size": {"width": 0}}, "image_size", {"width": 0}, "JSON object", "below the minimum"),
    ],
)
def test_each_problem_names_field_given_and_allowed(
    params: dict, field: str, given: Any, allowed: str, in_message: str
) -> None:
    _, [problem] = check(fal_schema("fal-ai/flux/dev"), {"prompt": "a", **params})
    assert problem["field"] == field
    assert problem["given"] == given
    assert allowed in problem["allowed"]
    assert problem["message"].startswith(f"{field}: ")
    assert in_message in problem["message"]
    assert problem["allowed"] in problem["message"]


def test_missing_required_fields() -> None:
    schema = fal_schema("fal-ai/flux/dev/image-to-image")
    _, problems = check(schema, {})
    assert [(p["field"], p["given"]) for p in problems] == [("image_url", None), ("prompt", None)]
    assert problems[0]["message"].endswith("add -i image_url=PATH_OR_URL")
    assert 'genctl generate "…"' in problems[1]["message"]


def test_file_inputs_are_checked_by_name_only() -> None:
    schema = fal_schema("fal-ai/flux/dev/image-to-image")
    params = {"prompt": "a", "image_url": "./cat.png", "imag": "./dog.png"}
    _, problems = check(schema, params, file_keys=frozenset({"image_url", "imag"}))
    assert [p["field"] for p in problems] == ["imag"]


def test_sources_are_named_in_messages() -> None:
    source = '[models."fal-ai/flux/dev"] in /home/me/config.toml'
    _, [problem] = check(
        fal_schema("fal-ai/flux/dev"), {"prompt": "a", "num_steps": 3}, sources={"num_steps": source}
    )
    assert problem["message"].startswith(f"unknown parameter num_steps (from {source})")


def test_payload_error_is_one_error_with_every_field() -> None:
    schema = fal_schema("fal-ai/flux/dev")
    _, problems = check_params(schema, {"prompt": "a", "num_images": 9, "num_image": 1})
    err = payload_error("fal-ai/flux/dev", "fal", problems)
    assert (err.code, err.exit_code, err.provider) == ("payload.invalid", 5, "fal")
    assert [f["field"] for f in err.details["fields"]] == ["num_images", "num_image"]
    assert err.message.startswith(
        "fal-ai/flux/dev would reject this input: num_images: 9 is above the maximum"
    )
    assert "Nothing was sent" in err.fix and "--no-validate" in err.fix
