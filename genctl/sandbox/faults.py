"""Injected faults: match a request by host, method, path, key; then answer, stall, or cut the connection."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from genctl.sandbox.fal_errors import INFRA, infra_body
from genctl.sandbox.hostile import ABSURD_HEADERS, CLOUDFLARE_HTML, PORTAL_HTML
from genctl.sandbox.keys import fingerprint
from genctl.sandbox.wire import Response

FaultAction = Literal[
    "respond",
    "delay",
    "drop",
    "drop_mid_body",
    "hang",
    "trickle",
    "reset",
    "redirect_loop",
    "rewrite",
    "barrier",
]


@dataclass
class Fault:
    """One injected misbehaviour.

    Matching: `provider` is a host name or family ("fal" = every fal host; "fal.queue", "fal.run",
    "fal.api", "fal.rest", "fal.cdn", "media", "replicate"); `path` is a regex searched in the full request
    path (e.g. r"/requests/[^/]+/status$"); `key` is a raw key or token (compared by fingerprint);
    `times` is how many matching requests it fires for (None = unlimited).

    Actions: "respond" with status/body/headers; "delay" sleeps `delay` seconds, then the request is
    served normally; "drop" closes the connection without answering; "drop_mid_body" sends the real
    headers (full Content-Length) and `after_bytes` of the body (default: half) or, on a stream,
    `after_events` SSE events, then closes.

    Hostile actions (genctl.sandbox.hostile): "hang" never answers until the client closes; "trickle"
    sends the real answer (or `body`) one byte per `interval` seconds; "reset" aborts the connection with
    a TCP RST; "redirect_loop" answers 302 to the same URL; "rewrite" distorts the real answer (`variant`
    "empty_output", "gzip_garbage" or "no_units").

    "barrier" holds each matching request until `parties` of them are held at once, then serves them all
    normally: a test that they were sent concurrently, with no clock. When `delay` seconds pass first, the
    requests held answer 504 with a body that says how many came.
    """

    action: FaultAction = "respond"
    provider: str | None = None
    method: str | None = None
    path: str | None = None
    key: str | None = None
    times: int | None = None
    status: int = 500
    body: Any = None  # dict/list -> JSON, str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0
    after_bytes: int | None = None
    after_events: int | None = None
    interval: float = 0.1
    variant: str | None = None
    parties: int = 0
    id: str = field(default_factory=lambda: "fault-" + uuid.uuid4().hex[:8])
    fired: int = 0

    # --- constructors for the faults tests keep asking for --------------------------------------------

    @classmethod
    def http(
        cls, status: int, body: Any = None, *, headers: dict[str, str] | None = None, **match: Any
    ) -> Fault:
        return cls(action="respond", status=status, body=body, headers=dict(headers or {}), **match)

    @classmethod
    def rate_limited(
        cls, provider: str, *, retry_after: int | None = 5, wording: str = "resets_in", **match: Any
    ) -> Fault:
        """429 as each API sends it; `retry_after=None` sends no Retry-After header.

        Replicate `wording`: "resets_in" = `{"detail": "...resets in ~5s.", "status": 429,
        "retry_after": 5}` (third-party logs, replicate-api.md §2.3); "expected_available" = the older
        docs' Django REST framework text `{"detail": "Request was throttled. Expected available in 5
        seconds."}` (no `status`, no `retry_after`). UNVERIFIED: whether Replicate sends a Retry-After
        header with either.
        """
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        seconds = 5 if retry_after is None else retry_after
        if provider.startswith("replicate"):
            if wording == "expected_available":
                unit = "second" if seconds == 1 else "seconds"
                body: Any = {"detail": f"Request was throttled. Expected available in {seconds} {unit}."}
            elif wording == "resets_in":
                body = {
                    "detail": f"Request was throttled. Your rate limit resets in ~{seconds}s.",
                    "status": 429,
                    "retry_after": seconds,
                }
            else:
                raise ValueError("wording is 'resets_in' or 'expected_available'")
            return cls(
                action="respond",
                provider=provider,
                status=429,
                body=body,
                headers=headers,
                content_type="application/problem+json",  # UNVERIFIED: the 429's content type
                **match,
            )
        if provider == "fal.api":
            body = {"error": {"type": "rate_limited", "message": "Rate limit exceeded"}}
        else:
            body = {"detail": "Rate limit exceeded"}  # UNVERIFIED: fal's inference 429 body (§2.2)
        return cls(action="respond", provider=provider, status=429, body=body, headers=headers, **match)

    @classmethod
    def unavailable(cls, provider: str, status: int = 504, **match: Any) -> Fault:
        """fal's infra error (flat body + X-Fal-Error-Type, §2.2), or a Replicate problem+json 5xx."""
        if provider.startswith("replicate"):
            body = {"detail": "Service Unavailable", "status": status}  # UNVERIFIED: no recorded 5xx
            return cls(
                action="respond",
                provider=provider,
                status=status,
                body=body,
                content_type="application/problem+json",
                **match,
            )
        kind = {503: "runner_scheduling_failure", 504: "request_timeout"}.get(status, "runner_server_error")
        return cls.infra(kind, provider=provider, status=status, **match)

    @classmethod
    def infra(
        cls, error_type: str, provider: str = "fal", *, user_timeout: bool = False, **match: Any
    ) -> Fault:
        """A fal request error (fal_errors.INFRA): flat `{"detail", "error_type"}`, X-Fal-Error-Type, and
        `X-Fal-Request-Timeout-Type: user` if the caller's own X-Fal-Request-Timeout expired (§1.7, §2.2).
        """
        if error_type not in INFRA:
            raise ValueError(f"unknown fal error type {error_type!r}; known: {', '.join(INFRA)}")
        status = match.pop("status", INFRA[error_type][0])
        headers = {"X-Fal-Error-Type": error_type, "x-fal-request-id": str(uuid.uuid4())}
        if user_timeout:
            headers["X-Fal-Request-Timeout-Type"] = "user"
        body = infra_body(error_type)
        return cls(action="respond", provider=provider, status=status, body=body, headers=headers, **match)

    @classmethod
    def nginx(cls, provider: str, status: int = 502, **match: Any) -> Fault:
        """An ingress error page: HTML mentioning nginx and no x-fal-request-id (fal_client retries it)."""
        title = f"<head><title>{status} Bad Gateway</title></head>"
        body = f"<html>{title}<body><center>nginx</center></body></html>"
        return cls(
            action="respond", provider=provider, status=status, body=body, content_type="text/html", **match
        )

    @classmethod
    def cloudflare(cls, provider: str = "fal.api", **match: Any) -> Fault:
        """Cloudflare's HTML challenge page: 403, text/html, `cf-mitigated: challenge` (fal issue #718)."""
        return cls(
            action="respond",
            provider=provider,
            status=403,
            body=CLOUDFLARE_HTML,
            content_type="text/html; charset=UTF-8",
            headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
            **match,
        )

    @classmethod
    def slow(cls, seconds: float, **match: Any) -> Fault:
        return cls(action="delay", delay=seconds, **match)

    @classmethod
    def barrier(cls, parties: int, timeout: float = 5.0, **match: Any) -> Fault:
        """Serve matching requests only once `parties` of them wait at once (else 504 after `timeout`)."""
        return cls(action="barrier", parties=parties, delay=timeout, **match)

    @classmethod
    def drop(cls, **match: Any) -> Fault:
        return cls(action="drop", **match)

    @classmethod
    def drop_mid_body(cls, after_bytes: int | None = None, **match: Any) -> Fault:
        return cls(action="drop_mid_body", after_bytes=after_bytes, **match)

    # --- a hostile server (genctl.sandbox.hostile) ------------------------------------------------------

    @classmethod
    def hang(cls, **match: Any) -> Fault:
        return cls(action="hang", **match)

    @classmethod
    def trickle(cls, interval: float = 0.1, body: Any = None, **match: Any) -> Fault:
        """The real answer (or `body`, with `status`), one byte every `interval` seconds."""
        return cls(action="trickle", interval=interval, body=body, **match)

    @classmethod
    def reset(cls, **match: Any) -> Fault:
        return cls(action="reset", **match)

    @classmethod
    def redirect_loop(cls, **match: Any) -> Fault:
        return cls(action="redirect_loop", **match)

    @classmethod
    def html200(cls, **match: Any) -> Fault:
        """200 OK with an HTML page (a captive portal or a misrouted proxy) where JSON was expected."""
        return cls(action="respond", status=200, body=PORTAL_HTML, content_type="text/html", **match)

    @classmethod
    def empty_output(cls, **match: Any) -> Fault:
        """The real 200 answer with its output emptied: fal `{"images": []}`, Replicate `"output": null`."""
        return cls(action="rewrite", variant="empty_output", **match)

    @classmethod
    def no_units(cls, **match: Any) -> Fault:
        """The real answer without its `x-fal-billable-units` header (what a cost is billed from)."""
        return cls(action="rewrite", variant="no_units", **match)

    @classmethod
    def gzip_garbage(cls, **match: Any) -> Fault:
        """The real answer, labelled `Content-Encoding: gzip` although it is not gzip."""
        return cls(action="rewrite", variant="gzip_garbage", **match)

    @classmethod
    def absurd_headers(cls, provider: str, variant: str = "retry_after_inf", **match: Any) -> Fault:
        """The provider's 429, with header values from hostile.ABSURD_HEADERS[variant]."""
        if variant not in ABSURD_HEADERS:
            raise ValueError(f"unknown variant {variant!r}; known: {', '.join(ABSURD_HEADERS)}")
        fault = cls.rate_limited(provider, retry_after=None, **match)
        fault.headers, fault.variant = dict(ABSURD_HEADERS[variant]), variant
        return fault

    @classmethod
    def detail_200(cls, missing: str = "/x", **match: Any) -> Fault:
        """A result GET answering 200 `{"detail": "Path /x not found"}` (one third-party report, §2.2)."""
        match.setdefault("provider", "fal.queue")
        match.setdefault("method", "GET")
        match.setdefault("path", r"/requests/[^/]+$")
        return cls(action="respond", status=200, body={"detail": f"Path {missing} not found"}, **match)

    @classmethod
    def stream_drop(cls, after_events: int = 1, **match: Any) -> Fault:
        """The fal status stream sends `after_events` events, then the connection drops mid-job."""
        match.setdefault("path", r"/status/stream$")
        return cls(action="drop_mid_body", after_events=after_events, **match)

    @classmethod
    def stream_refused(cls, status: int = 405, **match: Any) -> Fault:
        """The fal status stream will not open (e.g. a proxy that does not allow SSE): 404 or 405."""
        match.setdefault("path", r"/status/stream$")
        detail = "Not Found" if status == 404 else "Method Not Allowed"  # a proxy's refusal: any body will do
        return cls(action="respond", status=status, body={"detail": detail}, **match)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """`{"kind": "rate_limited", "provider": "replicate", ...}` or the raw fields of Fault."""
        data = dict(data)
        kind = data.pop("kind", None)
        builders: dict[str, Callable[..., Fault]] = {
            "http": cls.http,
            "rate_limited": cls.rate_limited,
            "unavailable": cls.unavailable,
            "infra": cls.infra,
            "nginx": cls.nginx,
            "cloudflare": cls.cloudflare,
            "slow": cls.slow,
            "barrier": cls.barrier,
            "drop": cls.drop,
            "drop_mid_body": cls.drop_mid_body,
            "hang": cls.hang,
            "trickle": cls.trickle,
            "reset": cls.reset,
            "redirect_loop": cls.redirect_loop,
            "html200": cls.html200,
            "empty_output": cls.empty_output,
            "gzip_garbage": cls.gzip_garbage,
            "no_units": cls.no_units,
            "absurd_headers": cls.absurd_headers,
            "detail_200": cls.detail_200,
            "stream_drop": cls.stream_drop,
            "stream_refused": cls.stream_refused,
        }
        if kind is None:
            return cls(**data)
        if kind not in builders:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(builders)}")
        fault: Fault = builders[kind](**data)
        return fault

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["key"] = fingerprint(self.key) if self.key else None  # never echo a key back
        return out

    # --- behaviour --------------------------------------------------------------------------------------

    def matches(self, host: str, method: str, path: str, key: str | None) -> bool:
        if self.provider and not (host == self.provider or host.startswith(self.provider + ".")):
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path and not re.search(self.path, path):
            return False
        return not (self.key and (key is None or fingerprint(self.key) != fingerprint(key)))

    def response(self) -> Response:
        if isinstance(self.body, (dict, list)):
            body = json.dumps(self.body).encode()
            content_type = self.content_type or "application/json"
        else:
            body = (self.body or "").encode()
            content_type = self.content_type or "text/plain; charset=utf-8"
        return Response(self.status, {"Content-Type": content_type, **self.headers}, body)


class FaultSet:
    """Faults in injection order; the first live match fires and spends one of its `times`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._barriers: dict[str, threading.Barrier] = {}

    def meet(self, fault: Fault) -> Response | None:
        """Wait at `fault`'s barrier: None once `parties` requests meet there, else the 504 to send."""
        with self._lock:
            barrier = self._barriers.setdefault(fault.id, threading.Barrier(fault.parties))
        try:
            barrier.wait(fault.delay)
            return None
        except threading.BrokenBarrierError:
            with self._lock:  # the next requests meet at a fresh barrier
                if self._barriers.get(fault.id) is barrier:
                    del self._barriers[fault.id]
            detail = f"sandbox barrier: {fault.parties} requests at once were expected within {fault.delay} s"
            return Response(
                504, {"Content-Type": "application/json"}, json.dumps({"detail": detail}).encode()
            )

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, host: str, method: str, path: str, key: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                if fault.matches(host, method, path, key):
                    fault.fired += 1
                    return fault
        return None
