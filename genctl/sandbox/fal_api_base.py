"""What every api.fal.ai/v1 route shares: key auth with scopes, cursor paging, date and list parameters.

Error envelope `{"error": {"type", "message"}}` and the messages are the platform spec's examples
(fal-api.md §2.3); the cursor "encodes the page number" (spec, `cursor` parameter).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta

from genctl.sandbox.keys import KeyInfo
from genctl.sandbox.state import Context
from genctl.sandbox.wire import Request, Response, bearer, fal_platform_error

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def platform_auth(req: Request, ctx: Context, *, required: bool) -> KeyInfo | Response | None:
    raw = bearer(req, ("Key",))
    if raw is None:
        if required:
            return fal_platform_error(401, "authorization_error", "Authentication required")
        return None
    info = ctx.keys.lookup("fal", raw)
    if info.state in ("bad_format", "unknown"):
        message = "Invalid API key or malformed Authorization header"  # observed real body (§2.3)
        return fal_platform_error(401, "authorization_error", message)
    return info


def require_key(req: Request, ctx: Context, *, admin: bool) -> KeyInfo | Response:
    """A key is required; `admin` routes (spec security `adminApiKey`) refuse an API-scoped key with 403."""
    info = platform_auth(req, ctx, required=True)
    if isinstance(info, Response):
        return info
    assert info is not None
    if admin and info.scope != "ADMIN":
        return fal_platform_error(403, "authorization_error", "Access denied")
    return info


def invalid(message: str) -> Response:
    return fal_platform_error(400, "validation_error", message)


def page(
    req: Request, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT
) -> tuple[int, int] | Response:
    """(limit, page) from `limit` and the opaque cursor, which base64-encodes the page number (§3.1)."""
    try:
        limit = int(req.arg("limit") or default)
        cursor = req.arg("cursor")
        number = int(base64.b64decode(cursor, validate=True).decode()) if cursor else 1
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return invalid("Invalid limit or cursor")
    if limit < 1 or number < 1:
        return invalid("Invalid limit or cursor")
    return min(limit, maximum), number


def next_cursor(number: int, has_more: bool) -> str | None:
    return base64.b64encode(str(number + 1).encode()).decode() if has_more else None


def timestamp(req: Request, name: str) -> datetime | Response | None:
    """An ISO 8601 date-time or `YYYY-MM-DD` query parameter (spec `start`/`end`); None when absent."""
    raw = req.arg(name)
    if raw is None:
        return None
    try:
        if _DATE.fullmatch(raw):
            return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return invalid(f"Invalid {name}: expected an ISO 8601 date-time or YYYY-MM-DD")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def time_range(req: Request, *, default_days: float = 1.0) -> tuple[datetime, datetime] | Response:
    """[start, end): `start` defaults to `default_days` ago (24 h in the spec), `end` to now."""
    start, end = timestamp(req, "start"), timestamp(req, "end")
    if isinstance(start, Response):
        return start
    if isinstance(end, Response):
        return end
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=default_days)
    if start >= end:
        return invalid("start must be before end")
    return start, end
