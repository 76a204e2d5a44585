"""Hostile-server behaviours the faults can switch on: what a broken proxy, CDN or gateway might send.

None of these is a documented behaviour of fal or Replicate; they are the misbehaviours a robust client must
survive (hangs, resets, trickled bodies, lying Content-Encoding, redirect loops, absurd headers, HTML where
JSON was expected, "successful" answers without output). The server calls these; `faults.Fault` selects them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import select
import socket
import struct
import threading
from typing import Any

from genctl.sandbox.wire import Request, Response

CLOUDFLARE_HTML = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>
<body><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">Just a moment...</h1>
<h2 class="h2" id="challenge-running">Checking if the site connection is secure</h2>
</div></div></body></html>
"""
# A captive portal / proxy login page: 200, text/html, no JSON anywhere.
PORTAL_HTML = """<!DOCTYPE html><html><head><title>Sign in to the network</title></head>
<body><h1>Welcome</h1><p>Please accept the terms of use to continue.</p></body></html>
"""
# Header values no sane server sends; each is a separate variant so a test can aim at one parser.
ABSURD_HEADERS: dict[str, dict[str, str]] = {
    "retry_after_inf": {"Retry-After": "1e999"},
    "retry_after_huge": {"Retry-After": "100000000000000000"},
    "huge_value": {"X-Sandbox-Padding": "a" * 65536},
    # Sent as latin-1 bytes on the wire (0xE9, 0xFF): not ASCII, and not valid UTF-8 either.
    "non_ascii": {"X-Sandbox-Note": "caf\xe9 \xff", "Retry-After": "\xe9"},
}
REWRITES = ("empty_output", "gzip_garbage", "no_units")
_MEDIA_KEYS = ("video", "audio", "audio_file", "image")


def hang(conn: socket.socket, stop: threading.Event) -> None:
    """Never answer: wait until the client closes its end (or the sandbox stops)."""
    while not stop.is_set():
        readable, _, _ = select.select([conn], [], [], 0.05)
        if readable:
            try:
                if conn.recv(1, socket.MSG_PEEK) == b"":
                    return  # the client gave up
            except OSError:
                return
            stop.wait(0.05)  # the client sent more (a pipelined request): keep ignoring it


def reset(conn: socket.socket) -> None:
    """Abort the connection with a TCP RST: SO_LINGER on with a zero timeout, then close."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def redirect_loop(req: Request) -> Response:
    """302 back to the very URL that was asked for, forever."""
    query = "&".join(f"{k}={v}" for k, values in req.query.items() for v in values)
    location = f"{req.base_url}{req.path}" + (f"?{query}" if query else "")
    return Response(302, {"Location": location, "Content-Type": "text/plain"}, b"Found")


def _emptied(body: Any) -> Any:
    """A "successful" body without output: fal `images: []` (and no media files), Replicate `output: null`."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    if "images" in out:
        out["images"] = []
    for key in _MEDIA_KEYS:
        if key in out:
            out[key] = None
    if "output" in out and "urls" in out:  # a Replicate prediction
        out["output"] = None
    return out


def rewrite(response: Response, variant: str) -> Response:
    """Distort a real answer: empty its output, or claim gzip for a body that is not gzip."""
    if variant == "no_units":  # the real answer without x-fal-billable-units (a proxy that strips it)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "x-fal-billable-units"}
        return dataclasses.replace(response, headers=headers)
    if variant == "gzip_garbage":
        body = response.body if response.stream is None else b"".join(response.stream)
        return Response(response.status, {**response.headers, "Content-Encoding": "gzip"}, body)
    if response.stream is not None or not response.headers.get("Content-Type", "").startswith(
        "application/json"
    ):
        return response
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    return Response(response.status, dict(response.headers), json.dumps(_emptied(payload)).encode())
