"""What Replicate routes share: auth, error answers (replicate-api.md §2.3) and cursor paging (§3.1).

Content types: the one recorded error (run__invalid-token.yaml, 401) is `application/problem+json`, and the
spec declares problem+json for the Files API's 404/413; `GET /v1/search`'s 400 is declared `application/json`.
UNVERIFIED: that every other error is problem+json (no recording shows them).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from genctl.sandbox.catalog import Json
from genctl.sandbox.keys import KeyInfo
from genctl.sandbox.state import Context
from genctl.sandbox.validate import Issue
from genctl.sandbox.wire import Request, Response, bearer, json_response, problem

NOT_FOUND = "The requested resource could not be found."
BILLING = {
    "no_billing": (
        "Billing required",
        "You need to set up billing to run this model. Go to https://replicate.com/account/billing#billing "
        "to set it up. If you have recently set up billing, please wait a few minutes before trying again.",
    ),
    "no_credit": (
        "Insufficient credit",
        "You have insufficient credit to run this model. Go to https://replicate.com/account/billing#billing "
        "to purchase credit. Once you purchase credit, please wait a few minutes before trying again.",
    ),
}


def authenticate(req: Request, ctx: Context) -> KeyInfo | Response:
    """Bearer (or legacy Token) auth; 401 bodies per replicate-api.md §2.3."""
    raw = bearer(req, ("Bearer", "Token"))
    if not raw:
        return problem(401, "You did not pass an authentication token", "Unauthenticated")
    info = ctx.keys.lookup("replicate", raw)
    if info.state == "invalid":
        return problem(401, "You did not pass a valid authentication token", "Unauthenticated")
    return info


def invalid_version() -> Response:
    detail = "The specified version does not exist (or perhaps you don't have permission to use it?)"
    return problem(422, detail, "Invalid version or not permitted")


def field_json(issue: Issue) -> Json:
    path = ".".join(("input", *issue.loc))
    name = issue.loc[-1] if issue.loc else "input"
    if issue.kind == "missing":
        return {
            "type": "required",
            "field": ".".join(("input", *issue.loc[:-1])),
            "description": f"{name} is required",
        }
    if issue.kind == "type":
        given = type(issue.value).__name__.replace("str", "string").replace("int", "integer")
        description = f"Invalid type. Expected: {issue.expected}, given: {given}"
        return {"type": "invalid_type", "field": path, "description": description}
    if issue.kind == "enum":
        allowed = ", ".join(json.dumps(v) for v in issue.expected or [])
        return {
            "type": "enum",
            "field": path,
            "description": f"{name} must be one of the following: {allowed}",
        }
    word, kind = ("greater", "number_gte") if issue.kind == "minimum" else ("less", "number_lte")
    return {"type": kind, "field": path, "description": f"Must be {word} than or equal to {issue.expected}"}


def input_problem(fields: list[Json]) -> Response:
    """422 "Input validation failed" with `invalid_fields`, exactly as §2.3 shows it."""
    detail = "".join(f"- {f['field']}: {f['description']}\n" for f in fields)
    return problem(422, detail, "Input validation failed", invalid_fields=fields)


def file_not_found() -> Response:
    """The spec's Files API 404: `{"detail": "File not found"}` as application/problem+json."""
    return problem_only(404, {"detail": "File not found"})


def problem_only(status: int, payload: Any) -> Response:
    """A problem+json body exactly as given (the spec's file errors carry no `status` member)."""
    return Response(status, {"Content-Type": "application/problem+json"}, json.dumps(payload).encode())


def bad_query(detail: str) -> Response:
    """A malformed query parameter: `{"detail": ...}` as application/json, like the spec's /v1/search 400."""
    return json_response(400, {"detail": detail})


def page_offset(req: Request) -> int | Response:
    """The list offset a `cursor` encodes (the sandbox's cursors are base64 offsets; real ones are opaque)."""
    raw = req.arg("cursor")
    if raw is None:
        return 0
    try:
        offset = int(base64.b64decode(raw, validate=True).decode())
    except (ValueError, UnicodeDecodeError):
        offset = -1
    return offset if offset >= 0 else bad_query("Invalid cursor")


def page(req: Request, items: list[Json], size: int, path: str) -> Response:
    """`{"next", "previous", "results"}` with absolute cursor URLs (§3.1)."""
    offset = page_offset(req)
    if isinstance(offset, Response):
        return offset

    def url(at: int) -> str:
        return f"{req.base_url}/replicate/v1/{path}?cursor={base64.b64encode(str(at).encode()).decode()}"

    return json_response(
        200,
        {
            "next": url(offset + size) if offset + size < len(items) else None,
            "previous": url(max(offset - size, 0)) if offset > 0 else None,
            "results": items[offset : offset + size],
        },
    )
