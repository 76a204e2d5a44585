"""The request/response values handlers exchange with the server, and body builders for each API family."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from genctl.sandbox.catalog import Json


@dataclass
class Request:
    method: str
    path: str  # full path without the query, e.g. /fal/queue/fal-ai/flux/dev
    sub: str  # the path below the host prefix, e.g. /fal-ai/flux/dev
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # http://host:port, as the client addressed us
    stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def parse_query(cls, raw: str) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(raw, keep_blank_values=True)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def args(self, name: str) -> list[str]:
        """Repeated and comma-separated values alike (`?endpoint_id=a&endpoint_id=b` or `a,b`)."""
        return [part for value in self.query.get(name, []) for part in value.split(",") if part]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body.decode() or "null")

    def wait(self, seconds: float) -> None:
        """Sleep, but wake at once when the sandbox stops, so no request outlives stop()."""
        if seconds > 0:
            self.stop.wait(seconds)


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterator[bytes] | None = None  # when set, `length` bytes are sent from it
    length: int | None = None
    chunked: bool = False  # stream of unknown length (SSE): Transfer-Encoding: chunked, one chunk per item

    @property
    def content_length(self) -> int:
        return self.length if self.stream is not None and self.length is not None else len(self.body)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, body)


def fal_detail(status: int, detail: Any, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """fal inference hosts: `{"detail": ...}` (fal-api.md §2.2)."""
    return json_response(status, {"detail": detail, **extra}, headers)


def fal_platform_error(status: int, kind: str, message: str) -> Response:
    """api.fal.ai/v1: `{"error": {"type", "message"}}` (fal-api.md §2.3)."""
    return json_response(status, {"error": {"type": kind, "message": message}})


def problem(status: int, detail: str, title: str | None = None, **extra: Any) -> Response:
    """Replicate: RFC 7807 problem+json (replicate-api.md §2.3)."""
    payload: Json = {}
    if title is not None:
        payload["title"] = title
    payload["detail"] = detail
    payload["status"] = status
    payload.update(extra)
    return Response(status, {"Content-Type": "application/problem+json"}, json.dumps(payload).encode())


def bearer(req: Request, schemes: tuple[str, ...]) -> str | None:
    """The credential after one of `schemes` in the Authorization header, or None."""
    value = req.header("authorization")
    if not value:
        return None
    scheme, _, credential = value.partition(" ")
    if scheme.lower() not in {s.lower() for s in schemes}:
        return None
    return credential
