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

from genctl.sandbox.keys import fingerprint
from genctl.sandbox.wire import Response

FaultAction = Literal["respond", "delay", "drop", "drop_mid_body"]

CLOUDFLARE_HTML = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>
<body><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">Just a moment...</h1>
<h2 class="h2" id="challenge-running">Checking if the site connection is secure</h2>
</div></div></body></html>
"""


@dataclass
class Fault:
    """One injected misbehaviour.

    Matching: `provider` is a host name or family ("fal" = every fal host; "fal.queue", "fal.run",
    "fal.api", "fal.rest", "fal.cdn", "media", "replicate"); `path` is a regex searched in the full request
    path (e.g. r"/requests/[^/]+/status$"); `key` is a raw key or token (compared by fingerprint);
    `times` is how many matching requests it fires for (None = unlimited).

    Actions: "respond" with status/body/headers; "delay" sleeps `delay` seconds, then the request is
    served normally; "drop" closes the connection without answering; "drop_mid_body" sends the real
    headers (full Content-Length) and `after_bytes` of the body (default: half), then closes.
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
    id: str = field(default_factory=lambda: "fault-" + uuid.uuid4().hex[:8])
    fired: int = 0

    # --- constructors for the faults tests keep asking for --------------------------------------------

    @classmethod
    def http(
        cls, status: int, body: Any = None, *, headers: dict[str, str] | None = None, **match: Any
    ) -> Fault:
        return cls(action="respond", status=status, body=body, headers=dict(headers or {}), **match)

    @classmethod
    def rate_limited(cls, provider: str, *, retry_after: int | None = 5, **match: Any) -> Fault:
        """429 as each API sends it; `retry_after=None` sends no Retry-After header."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        seconds = 5 if retry_after is None else retry_after
        if provider.startswith("replicate"):
            body: Any = {
                "detail": f"Request was throttled. Your rate limit resets in ~{seconds}s.",
                "status": 429,
                "retry_after": seconds,
            }
            return cls(
                action="respond",
                provider=provider,
                status=429,
                body=body,
                headers=headers,
                content_type="application/problem+json",
                **match,
            )
        if provider == "fal.api":
            body = {"error": {"type": "rate_limited", "message": "Rate limit exceeded"}}
        else:
            body = {"detail": "Rate limit exceeded"}  # fal inference 429 body is unverified (§2.2)
        return cls(action="respond", provider=provider, status=429, body=body, headers=headers, **match)

    @classmethod
    def unavailable(cls, provider: str, status: int = 504, **match: Any) -> Fault:
        """fal's infra error (flat body + X-Fal-Error-Type, §2.2), or a Replicate problem+json 5xx."""
        if provider.startswith("replicate"):
            body = {"detail": "Service Unavailable", "status": status}
            return cls(
                action="respond",
                provider=provider,
                status=status,
                body=body,
                content_type="application/problem+json",
                **match,
            )
        kind = {503: "runner_scheduling_failure", 504: "request_timeout"}.get(status, "runner_server_error")
        message = {503: "Runner scheduling failure", 504: "Request timed out"}.get(status, "Internal error")
        return cls(
            action="respond",
            provider=provider,
            status=status,
            body={"detail": message, "error_type": kind},
            headers={"X-Fal-Error-Type": kind, "x-fal-request-id": str(uuid.uuid4())},
            **match,
        )

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
    def drop(cls, **match: Any) -> Fault:
        return cls(action="drop", **match)

    @classmethod
    def drop_mid_body(cls, after_bytes: int | None = None, **match: Any) -> Fault:
        return cls(action="drop_mid_body", after_bytes=after_bytes, **match)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """`{"kind": "rate_limited", "provider": "replicate", ...}` or the raw fields of Fault."""
        data = dict(data)
        kind = data.pop("kind", None)
        builders: dict[str, Callable[..., Fault]] = {
            "http": cls.http,
            "rate_limited": cls.rate_limited,
            "unavailable": cls.unavailable,
            "nginx": cls.nginx,
            "cloudflare": cls.cloudflare,
            "slow": cls.slow,
            "drop": cls.drop,
            "drop_mid_body": cls.drop_mid_body,
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
