"""Hostile-server faults, injected through the control API or `Sandbox.inject`, as plain httpx sees them."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK

FAL = {"Authorization": f"Key {FAL_KEY_OK}"}
REP = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}


def control(sandbox: Sandbox, fault: dict[str, object]) -> None:
    """Inject through the /_sandbox/ control API, the way a sandbox in another process is driven."""
    r = httpx.post(f"{sandbox.url}/_sandbox/faults", json=fault)
    assert r.status_code == 201, r.text


def test_hang_never_answers_until_the_client_gives_up(sandbox: Sandbox) -> None:
    control(sandbox, {"kind": "hang", "provider": "replicate", "times": 1})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{sandbox.url}/replicate/v1/account", headers=REP, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert httpx.get(f"{sandbox.url}/replicate/v1/account", headers=REP).status_code == 200
    [record] = [r for r in sandbox.requests if r.fault is not None]
    assert record.status is None  # never answered


def test_trickle_sends_one_byte_per_interval(sandbox: Sandbox) -> None:
    control(sandbox, {"kind": "trickle", "interval": 0.05, "status": 200, "body": "slow!", "times": 2})
    started = time.monotonic()
    r = httpx.get(f"{sandbox.url}/replicate/v1/hardware", headers=REP, timeout=5)
    assert (r.status_code, r.text) == (200, "slow!")
    assert time.monotonic() - started >= 0.2  # five bytes, a pause after each
    with pytest.raises(httpx.ReadTimeout):  # a per-read timeout shorter than the pause trips mid-body
        httpx.get(f"{sandbox.url}/replicate/v1/hardware", headers=REP, timeout=httpx.Timeout(5, read=0.02))


def test_trickle_of_a_real_answer(sandbox: Sandbox) -> None:
    sandbox.inject(Fault.trickle(interval=0.001, provider="replicate", path="/hardware$"))
    r = httpx.get(f"{sandbox.url}/replicate/v1/hardware", headers=REP)
    assert r.status_code == 200 and r.json()[0] == {"name": "CPU", "sku": "cpu"}


def test_reset_aborts_with_a_tcp_rst(sandbox: Sandbox) -> None:
    control(sandbox, {"kind": "reset", "provider": "fal.queue"})
    with pytest.raises(httpx.ReadError) as excinfo:
        httpx.post(f"{sandbox.url}/fal/queue/fal-ai/flux/dev", json={"prompt": "x"}, headers=FAL)
    assert "reset" in str(excinfo.value).lower()
    # the RST is visible at the socket level too: ECONNRESET, not an orderly EOF
    with socket.create_connection(("127.0.0.1", sandbox.port)) as sock:
        sock.sendall(b"GET /fal/queue/x/y/requests/z/status HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)


def test_html200_is_a_200_that_is_not_json(sandbox: Sandbox) -> None:
    control(sandbox, {"kind": "html200", "provider": "fal.api"})
    r = httpx.get(f"{sandbox.url}/fal/api/v1/models")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html"
    assert r.text.startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError):
        r.json()


def test_empty_output_on_a_fal_result_and_a_replicate_prediction(sandbox: Sandbox) -> None:
    sandbox.inject(Fault.empty_output(provider="fal.queue", method="GET", path=r"/requests/[^/]+$"))
    sandbox.inject(Fault.empty_output(provider="replicate", method="GET", path=r"/predictions/[^/]+$"))
    with httpx.Client(headers=FAL) as fal:
        job = fal.post(f"{sandbox.url}/fal/queue/fal-ai/flux/dev", json={"prompt": "x"}).json()
        assert fal.get(job["status_url"]).json()["status"] == "COMPLETED"
        result = fal.get(job["response_url"])
    assert result.status_code == 200 and result.json()["images"] == []
    assert result.json()["seed"] is not None  # the rest of the answer is untouched
    with httpx.Client(base_url=f"{sandbox.url}/replicate/v1", headers=REP) as rep:
        pid = rep.post("/models/black-forest-labs/flux-schnell/predictions", json={"input": {"prompt": "x"}})
        got = rep.get(f"/predictions/{pid.json()['id']}").json()
    assert (got["status"], got["output"]) == ("succeeded", None)


def test_gzip_garbage_fails_to_decode(sandbox: Sandbox) -> None:
    control(sandbox, {"kind": "gzip_garbage", "provider": "replicate"})
    with pytest.raises(httpx.DecodingError):
        httpx.get(f"{sandbox.url}/replicate/v1/account", headers=REP)
    with httpx.stream("GET", f"{sandbox.url}/replicate/v1/account", headers=REP) as r:
        assert r.headers["content-encoding"] == "gzip"
        assert b"".join(r.iter_raw()).startswith(b'{"type": "user"')  # plain JSON under the gzip label


@pytest.mark.parametrize(
    ("variant", "header", "raw"),
    [
        ("retry_after_inf", b"retry-after", b"1e999"),
        ("retry_after_huge", b"retry-after", b"100000000000000000"),
        ("non_ascii", b"x-sandbox-note", b"caf\xe9 \xff"),
    ],
)
def test_absurd_header_values_reach_the_client(
    sandbox: Sandbox, variant: str, header: bytes, raw: bytes
) -> None:
    control(sandbox, {"kind": "absurd_headers", "provider": "replicate", "variant": variant})
    r = httpx.get(f"{sandbox.url}/replicate/v1/account", headers=REP)
    assert r.status_code == 429
    assert (header, raw) in [(k.lower(), v) for k, v in r.headers.raw]


def test_a_64_kib_header_value(sandbox: Sandbox) -> None:
    # httpcore lets h11 buffer up to 100 KiB of head, so httpx takes it; a stricter client would refuse.
    sandbox.inject(Fault.absurd_headers("fal.queue", "huge_value"))
    r = httpx.get(f"{sandbox.url}/fal/queue/fal-ai/flux/requests/x/status", headers=FAL)
    assert (r.status_code, r.headers["x-sandbox-padding"]) == (429, "a" * 65536)
    with pytest.raises(ValueError, match="unknown variant"):
        Fault.absurd_headers("fal", "polite")


def test_redirect_loop(sandbox: Sandbox) -> None:
    control(sandbox, {"kind": "redirect_loop", "provider": "fal.api"})
    url = f"{sandbox.url}/fal/api/v1/models?limit=1"
    first = httpx.get(url)
    assert (first.status_code, first.headers["location"]) == (302, url)
    with pytest.raises(httpx.TooManyRedirects):
        httpx.get(url, follow_redirects=True)


def test_detail_200_on_a_fal_result(sandbox: Sandbox) -> None:
    control(sandbox, {"kind": "detail_200", "missing": "/x"})
    with httpx.Client(headers=FAL) as fal:
        job = fal.post(f"{sandbox.url}/fal/queue/fal-ai/flux/dev", json={"prompt": "x"}).json()
        fal.get(job["status_url"])
        result = fal.get(job["response_url"])
    assert (result.status_code, result.json()) == (200, {"detail": "Path /x not found"})
