"""What fal's inference hosts answer when a call does not produce output: 422 validation bodies, the runtime's
404 for an unknown path inside an app, cancellation, infrastructure ("request") errors, and billable units.

Sources: fal-api.md §1.7 and §2.2; fal's runtime `projects/fal/src/fal/api/api.py` (fal-ai/fal @c6f0afaa)
for the 404 and billable units; fal's "Request Error Types" page (https://fal.ai/docs/documentation/model-apis/
request-errors) for the infra error types and their typical status codes.
"""

from __future__ import annotations

import math
from typing import Any

from genctl.sandbox.catalog import FalModel, Json
from genctl.sandbox.state import Outcome
from genctl.sandbox.validate import Issue

BILLABLE = "x-fal-billable-units"
CANCELLED_DETAIL = "Request cancelled by the client."  # runtime RequestCancelledException (fal e2e tests)

# error_type -> (typical status, detail). The status codes are the docs' table. Only "Request timed out" is a
# documented detail; UNVERIFIED: the other detail strings are the docs' descriptions, not observed bodies.
INFRA: dict[str, tuple[int, str]] = {
    "request_timeout": (504, "Request timed out"),
    "startup_timeout": (504, "The runner did not start within the allowed time."),
    "runner_scheduling_failure": (503, "No runner could be allocated to handle the request."),
    "runner_connection_timeout": (503, "The connection to the runner timed out."),
    "runner_disconnected": (503, "The runner disconnected unexpectedly during processing."),
    "runner_connection_refused": (503, "The runner refused the connection."),
    "runner_connection_error": (503, "A general connection error occurred with the runner."),
    "runner_incomplete_response": (502, "The runner sent an incomplete response payload."),
    "runner_server_error": (500, "Internal Server Error"),
    "internal_error": (500, "An unexpected internal error occurred."),
}

# UNVERIFIED: the msg text (fal's wording as best known offline); type and shape follow fal's errors page.
CONTENT_POLICY_MESSAGE = (
    "The content could not be processed because it contained material flagged by a content checker."
)
_PYDANTIC_V1_TYPES = {
    "integer": ("value is not a valid integer", "type_error.integer"),
    "number": ("value is not a valid float", "type_error.float"),
    "string": ("str type expected", "type_error.str"),
    "boolean": ("value could not be parsed to a boolean", "type_error.bool"),
    "object": ("value is not a valid dict", "type_error.dict"),
    "array": ("value is not a valid list", "type_error.list"),
}


def infra_body(error_type: str) -> Json:
    """The flat request-error body: `{"detail": "...", "error_type": "..."}` (request-errors page)."""
    return {"detail": INFRA[error_type][1], "error_type": error_type}


def infra_outcome(error_type: str, *, user_timeout: bool = False) -> Outcome:
    """A job that ends in an infra error: COMPLETED + error/error_type on status, the error on the result."""
    status, detail = INFRA[error_type]
    headers = {"X-Fal-Error-Type": error_type, BILLABLE: "0"}  # "5xx are not charged" (fal FAQ, §1.8)
    if user_timeout:  # the client's own X-Fal-Request-Timeout expired (§1.7)
        headers["X-Fal-Request-Timeout-Type"] = "user"
    return Outcome(
        output=infra_body(error_type), status=status, error=detail, error_type=error_type, headers=headers
    )


def path_not_found(path: str) -> Outcome:
    """A valid app asked for a path it does not serve: the runtime's 404 handler, not charged (§2.2)."""
    return Outcome(output={"detail": f"Path {path} not found"}, status=404, headers={BILLABLE: "0"})


def billable_units(model: FalModel, inputs: Json, output: Json) -> float:
    """Units the runtime reports for a successful call; units x unit_price is the cost (§1.7).

    UNVERIFIED: how each app counts its units. The sandbox's choice: `image` = one per image; `megapixels` =
    each image's width x height / 1e6 rounded up to a whole megapixel; `second` = the requested seconds of
    video; `video` = one per video; `1000 characters` = characters of input text / 1000; `compute seconds` =
    the timed inference seconds.
    """
    images = output.get("images")
    if model.unit == "image" and isinstance(images, list):
        return float(len(images))
    if model.unit == "megapixels" and isinstance(images, list):
        return float(sum(math.ceil(i["width"] * i["height"] / 1_000_000) for i in images))
    if model.unit == "second":
        return float(str(inputs.get("duration", 5)).rstrip("s"))  # Veo's durations read "8s"
    if model.unit == "1000 characters":
        return len(str(inputs.get("text", ""))) / 1000
    if model.unit == "compute seconds":
        timings = output.get("timings")
        return float(timings.get("inference", 1)) if isinstance(timings, dict) else 1.0
    return 1.0


def units_header(units: float) -> str:
    """`1` for whole units, `0.25` otherwise: what a number looks like in an HTTP header."""
    return str(int(units)) if units == int(units) else repr(units)


def _typed_issue(issue: Issue, loc: list[Any]) -> Json:
    """fal's typed error form (fal-api.md §2.2): loc/msg/type/url, plus ctx and input where they apply."""
    expected = issue.expected
    ctx: Json | None = None
    if issue.kind == "missing":
        kind, msg = "missing", "Field required"
    elif issue.kind == "type":
        kind, msg = f"{expected}_type", f"Input should be a valid {expected}"
    elif issue.kind == "minimum":
        kind, msg, ctx = (
            "greater_than_equal",
            f"Input should be greater than or equal to {expected}",
            {"ge": expected},
        )
    elif issue.kind == "maximum":
        kind, msg, ctx = (
            "less_than_equal",
            f"Input should be less than or equal to {expected}",
            {"le": expected},
        )
    else:
        kind, ctx = "one_of", {"expected": expected}
        msg = "Input should be " + " or ".join(repr(v) for v in expected or [])
    out: Json = {"loc": loc, "msg": msg, "type": kind, "url": f"https://docs.fal.ai/errors#{kind}"}
    if ctx is not None:
        out["ctx"] = ctx
    if issue.kind != "missing":
        out["input"] = issue.value
    return out


def issue_json(issue: Issue, typed: bool) -> Json:
    """One 422 `detail` entry, Pydantic v1 style or fal's typed style."""
    loc = ["body", *issue.loc]
    if typed:
        return _typed_issue(issue, loc)
    if issue.kind == "missing":
        return {"loc": loc, "msg": "field required", "type": "value_error.missing"}
    if issue.kind == "type":
        msg, kind = _PYDANTIC_V1_TYPES.get(str(issue.expected), ("invalid type", "type_error"))
        return {"loc": loc, "msg": msg, "type": kind}
    if issue.kind == "enum":
        allowed = ", ".join(repr(v) for v in issue.expected or [])
        return {
            "loc": loc,
            "msg": f"value is not a valid enumeration member; permitted: {allowed}",
            "type": "type_error.enum",
            "ctx": {"enum_values": issue.expected},
        }
    word, short = ("greater", "ge") if issue.kind == "minimum" else ("less", "le")
    return {
        "loc": loc,
        "msg": f"ensure this value is {word} than or equal to {issue.expected}",
        "type": f"value_error.number.not_{short}",
        "ctx": {"limit_value": issue.expected},
    }
