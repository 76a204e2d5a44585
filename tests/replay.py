"""Recorded real HTTP exchanges (VCR cassettes) as httpx objects, and a transport that serves them in order.

The cassettes are data in shared/recordings (beside this repository; GENCTL_RECORDINGS overrides where).
Two VCR layouts occur: vcrpy's httpx stub (`status_code` + `content`, the body already decoded though the
headers still say gzip) and the classic one (`status: {code}` + `body: {string}`, the body as sent, often
gzip bytes). Both become the same `Exchange`: headers and the decoded body, with Content-Encoding dropped.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

_DROPPED = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def recordings_dir() -> Path:
    """shared/recordings: $GENCTL_RECORDINGS, else the `shared` folder beside this repository."""
    if env := os.environ.get("GENCTL_RECORDINGS"):
        return Path(env)
    here = Path(__file__).resolve().parents[1]
    for base in (here.parent, *here.parents):
        if (base / "shared" / "recordings").is_dir():
            return base / "shared" / "recordings"
    raise FileNotFoundError("shared/recordings not found beside the repository; set GENCTL_RECORDINGS")


CASSETTES = "replicate-python-cassettes"


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its response."""

    method: str
    url: str
    request_body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)

    @property
    def path(self) -> str:
        return httpx.URL(self.url).path

    def json(self) -> Any:
        return json.loads(self.body)

    def request(self) -> httpx.Request:
        return httpx.Request(self.method, self.url, content=self.request_body)

    def response(self, request: httpx.Request | None = None) -> httpx.Response:
        """The recorded response, bound to `request` (or to the recorded request)."""
        return httpx.Response(
            self.status, headers=list(self.headers), content=self.body, request=request or self.request()
        )


def cassette_path(name: str) -> Path:
    return recordings_dir() / CASSETTES / name


def cassette_names() -> list[str]:
    return sorted(p.name for p in (recordings_dir() / CASSETTES).glob("*.yaml"))


@functools.cache
def _load(name: str) -> tuple[Exchange, ...]:
    text = cassette_path(name).read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    return tuple(_exchange(item) for item in data.get("interactions") or ())


def load(name: str) -> list[Exchange]:
    """Every interaction of one cassette, in recorded order (parsed once per test run)."""
    return list(_load(name))


def _exchange(item: dict[str, Any]) -> Exchange:
    request, response = item["request"], item["response"]
    raw_headers = response.get("headers") or {}
    encodings = [v.lower() for k, vs in raw_headers.items() if k.lower() == "content-encoding" for v in vs]
    if "status_code" in response:  # vcrpy's httpx layout: `content` is the decoded text
        status = int(response["status_code"])
        body = _bytes(response.get("content"))
    else:  # classic layout: `body.string` is what was sent on the wire
        status = int(response["status"]["code"])
        body = _bytes((response.get("body") or {}).get("string"))
        if "gzip" in encodings and body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
    headers = tuple(
        (name, value)
        for name, values in raw_headers.items()
        if name.lower() not in _DROPPED
        for value in values
    )
    sent = request.get("body")
    sent = sent.get("string") if isinstance(sent, dict) else sent
    return Exchange(
        method=str(request["method"]),
        url=str(request["uri"]),
        request_body=_bytes(sent),
        status=status,
        headers=headers,
        body=body,
    )


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


class Replay:
    """An httpx transport handler serving recorded exchanges: each (method, URL) answers its recordings in
    recorded order. Asking for one with none left, or one never recorded, fails the test."""

    def __init__(
        self, exchanges: Iterable[Exchange], *, extra: Callable[[httpx.Request], httpx.Response] | None = None
    ):
        self.pending: dict[tuple[str, str], list[Exchange]] = {}
        for exchange in exchanges:
            self.pending.setdefault((exchange.method, _key(exchange.url)), []).append(exchange)
        self.extra = extra
        self.served: list[Exchange] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.pending.get((request.method, _key(str(request.url))))
        if queue:
            exchange = queue.pop(0)
            self.served.append(exchange)
            return exchange.response(request)
        if self.extra is not None:
            return self.extra(request)
        raise AssertionError(f"no recorded answer left for {request.method} {request.url}")

    def left(self) -> list[tuple[str, str]]:
        return [(method, url) for (method, url), queue in self.pending.items() for _ in queue]


def _key(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.host}{parsed.path}"  # query strings (e.g. ?logs=1) do not pick the answer
