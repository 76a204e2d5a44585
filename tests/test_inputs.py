"""genctl.inputs: URLs pass through, small files inline, large files upload (fal-client, Replicate)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from genctl.errors import GenctlError
from genctl.http import RetryPolicy, make_client
from genctl.inputs import data_uri, resolve_input, resolve_inputs
from genctl.providers.fal import FalProvider
from genctl.providers.replicate import ReplicateProvider
from genctl.providers.uploads import FAL_MAX_ATTEMPTS
from genctl.values import Key
from tests.support import FAL_SECRET

REP_SECRET = "r8_Abcdefghijklmnopqrstuvwxyz0123456789Z"
FAL_KEY = Key(provider="fal", label="env:FAL_KEY", source="env", _secret=FAL_SECRET)
REP_KEY = Key(provider="replicate", label="env:REPLICATE_API_TOKEN", source="env", _secret=REP_SECRET)
API = "https://api.replicate.test/v1"


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    return path


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request {request.method} {request.url}")


def test_urls_pass_through_and_small_files_inline(png: Path) -> None:
    http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(no_network))
    for value in ("https://example.com/a.png", "http://127.0.0.1/a.png", "data:image/png;base64,AA=="):
        assert (
            resolve_input(value, provider=FalProvider(), key=FAL_KEY, client=http, upload_threshold=10)
            == value
        )
    inline = resolve_input(str(png), provider=FalProvider(), key=FAL_KEY, client=http, upload_threshold=1000)
    assert inline == data_uri(png)
    assert inline.startswith("data:image/png;base64,")
    assert base64.b64decode(inline.split(",", 1)[1]) == png.read_bytes()


def test_unknown_extension_is_octet_stream(tmp_path: Path) -> None:
    path = tmp_path / "blob.zzz-unknown"
    path.write_bytes(b"x")
    assert data_uri(path).startswith("data:application/octet-stream;base64,")


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(no_network))
    missing = tmp_path / "nope.png"
    with pytest.raises(GenctlError) as caught:
        resolve_input(str(missing), provider=FalProvider(), key=FAL_KEY, client=http, upload_threshold=10)
    assert (caught.value.code, caught.value.exit_code) == ("usage.invalid", 2)
    assert str(missing) in caught.value.message
    with pytest.raises(GenctlError) as caught:
        resolve_input(str(tmp_path), provider=FalProvider(), key=FAL_KEY, client=http, upload_threshold=10)
    assert "directory" in caught.value.message


def test_resolve_inputs_only_touches_input_keys(png: Path) -> None:
    http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(no_network))
    params = {"prompt": "a cat", "image_url": str(png), "n": 2}
    resolved = resolve_inputs(
        params, input_keys=["image_url"], provider=FalProvider(), key=FAL_KEY, client=http, threshold=10_000
    )
    assert resolved == {"prompt": "a cat", "image_url": data_uri(png), "n": 2}
    assert params["image_url"] == str(png)


def test_replicate_upload_multipart(png: Path) -> None:
    seen: list[httpx.Request] = []

    def files_api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, headers={"Retry-After": "1"})
        return httpx.Response(201, json={"id": "f1", "urls": {"get": f"{API}/files/f1"}})

    http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(files_api))
    waits: list[float] = []
    url = resolve_input(
        str(png),
        provider=ReplicateProvider(api_url=API),
        key=REP_KEY,
        client=http,
        upload_threshold=10,
        policy=RetryPolicy(jitter=0),
        sleep=waits.append,
    )
    assert url == f"{API}/files/f1" and waits == [1.0]
    request = seen[-1]
    assert (request.method, str(request.url)) == ("POST", f"{API}/files")
    assert request.headers["Authorization"] == f"Bearer {REP_SECRET}"
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    body = request.content
    assert b'name="content"; filename="cat.png"' in body and b"Content-Type: image/png" in body
    assert png.read_bytes() in body


def test_replicate_upload_error_mapped(png: Path) -> None:
    def too_big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(413, json={"detail": "Files must be less than 100MB in size"})

    http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(too_big))
    with pytest.raises(GenctlError) as caught:
        resolve_input(
            str(png), provider=ReplicateProvider(api_url=API), key=REP_KEY, client=http, upload_threshold=1
        )
    assert caught.value.code == "payload.invalid"


# -- fal storage over real loopback HTTP, through fal-client ------------------------------------------------


class FalStorage(BaseHTTPRequestHandler):
    """Just enough of rest.fal.ai + the CDN for fal-client's upload (fal-api.md §4)."""

    calls: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []
    token_status = 200

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.calls.append(("POST", self.path, dict(self.headers), body))
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path.startswith("/rest/storage/auth/token"):
            if self.token_status != 200:
                return self._reply(
                    self.token_status,
                    {
                        "detail": "User is locked. Reason: Exhausted balance. "
                        "Top up your balance at fal.ai/dashboard/billing."
                    },
                )
            return self._reply(
                200,
                {
                    "token": "cdn-token",
                    "token_type": "Bearer",
                    "base_url": f"{base}/cdn",
                    "expires_at": "2999-01-01T00:00:00+00:00",
                },
            )
        if self.path == "/cdn/files/upload":
            return self._reply(200, {"access_url": f"{base}/cdn/files/abc/{self.headers['X-Fal-File-Name']}"})
        return self._reply(404, {"detail": "Not Found"})


@pytest.fixture
def storage() -> Iterator[str]:
    FalStorage.calls = []
    FalStorage.token_status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), FalStorage)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_fal_upload_through_fal_client(png: Path, storage: str) -> None:
    import fal_client.client as fal_module

    before = (fal_module.REST_URL, fal_module.CDN_URL, fal_module.MAX_ATTEMPTS)
    http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(no_network))
    url = resolve_input(
        str(png),
        provider=FalProvider(rest_url=f"{storage}/rest"),
        key=FAL_KEY,
        client=http,
        upload_threshold=10,
    )
    assert url == f"{storage}/cdn/files/abc/cat.png"
    (_, token_path, token_headers, _), (_, upload_path, upload_headers, data) = FalStorage.calls
    assert token_path == "/rest/storage/auth/token?storage_type=fal-cdn-v3"
    assert token_headers["Authorization"] == f"Key {FAL_SECRET}"  # the key given explicitly, never ~/.fal
    assert upload_path == "/cdn/files/upload"  # the CDN named by the token's base_url
    assert upload_headers["Authorization"] == "Bearer cdn-token"
    assert upload_headers["Content-Type"] == "image/png"
    assert data == png.read_bytes()
    assert before == (fal_module.REST_URL, fal_module.CDN_URL, fal_module.MAX_ATTEMPTS)
    assert FAL_MAX_ATTEMPTS <= 2


def test_fal_upload_configured_cdn_and_error_mapping(png: Path, storage: str) -> None:
    FalStorage.token_status = 403
    http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(no_network))
    provider = FalProvider(rest_url=f"{storage}/rest")
    with pytest.raises(GenctlError) as caught:
        resolve_input(str(png), provider=provider, key=FAL_KEY, client=http, upload_threshold=10)
    err = caught.value
    assert (err.code, err.http_status) == ("key.locked", 403)
    assert FAL_SECRET not in str(err) + repr(err)

    FalStorage.token_status = 200
    FalStorage.calls = []
    configured = FalProvider(rest_url=f"{storage}/rest", cdn_url=f"{storage}/cdn/")
    assert resolve_input(
        str(png), provider=configured, key=FAL_KEY, client=http, upload_threshold=10
    ).endswith("/cdn/files/abc/cat.png")


def test_fal_upload_refused_connection_is_quick_and_mapped(png: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(no_network))
        with pytest.raises(GenctlError) as caught:
            resolve_input(
                str(png),
                provider=FalProvider(rest_url=f"http://127.0.0.1:{port}"),
                key=FAL_KEY,
                client=http,
                upload_threshold=10,
            )
    assert caught.value.code == "network.connect"
    assert FAL_SECRET not in str(caught.value)


def test_importing_inputs_does_not_import_fal_client() -> None:
    code = (
        "import sys, genctl.inputs, genctl.runner; "
        "print('fal_client' in sys.modules, 'replicate' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
