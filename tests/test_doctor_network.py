"""`genctl doctor` when the network is the problem: Cloudflare, a refused host, a host that never answers, a
TLS failure, a dead proxy — each with its code, fix and exit code — and probes that run at once."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from genctl.sandbox import Fault, Sandbox
from genctl.sandbox import keys as sk
from tests.conftest import run_subprocess
from tests.test_doctor import assert_check, doctor_json


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield int(sock.getsockname()[1])


def test_cloudflare_block_on_the_fal_api_host(genctl, sandbox: Sandbox) -> None:
    sandbox.inject(Fault.cloudflare(provider="fal.api"))
    run, checks = doctor_json(genctl, env={**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK})
    assert run.exit_code == 1
    api = checks["connectivity.fal.api_url"]
    assert_check(api, "fail", "blocked.cloudflare", "the key itself may be fine")
    assert "not a key problem" in api["message"]
    assert_check(checks["connectivity.fal.queue_url"], "ok", "ok")  # only that host is blocked
    assert_check(checks["keys.fal.env:FAL_KEY"], "fail", "blocked.cloudflare", "the key itself may be fine")


def test_host_refusing_connections(genctl, sandbox: Sandbox, closed_port: int) -> None:
    env = {
        **sandbox.env(),
        "FAL_KEY": sk.FAL_KEY_OK,
        "GENCTL_FAL_API_URL": f"http://127.0.0.1:{closed_port}/v1",
    }
    run, checks = doctor_json(genctl, env=env)
    assert run.exit_code == 1
    api = checks["connectivity.fal.api_url"]
    assert_check(api, "fail", "network.connect", "Check that 127.0.0.1 is reachable")
    assert api["subject"] == f"127.0.0.1:{closed_port}"
    assert api["details"]["stage"] == "connect"
    assert "dns_ms" in api["details"]
    assert_check(checks["connectivity.fal.queue_url"], "ok", "ok")
    assert_check(checks["keys.fal.env:FAL_KEY"], "fail", "network.connect")


def test_host_that_never_answers_ends_near_the_probe_timeout(
    genctl, sandbox: Sandbox, silent_port: int
) -> None:
    env = {
        **sandbox.env(),
        "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK,
        "GENCTL_REPLICATE_API_URL": f"http://127.0.0.1:{silent_port}/v1",
    }
    started = time.monotonic()
    run, checks = doctor_json(genctl, "--timeout", "0.4", "--provider", "replicate", env=env)
    elapsed = time.monotonic() - started
    assert run.exit_code == 1
    for check_id in ("connectivity.replicate.api_url", "keys.replicate.env:REPLICATE_API_TOKEN"):
        assert_check(checks[check_id], "fail", "network.timeout", "raise the HTTP timeout")
        assert 300 <= checks[check_id]["details"]["elapsed_ms"] < 1500
    assert checks["connectivity.replicate.api_url"]["details"]["stage"] == "http"  # connected, then silence
    assert elapsed < 2.0  # every probe waited once, at the same time: not 3 × 0.4 s in a row, nor retries


def test_never_answering_host_as_a_real_process(sandbox: Sandbox, silent_port: int) -> None:
    """The process itself ends near the timeout: no probe thread is left holding up the interpreter's exit."""
    env = {
        **sandbox.env(),
        "FAL_KEY": sk.FAL_KEY_OK,
        "GENCTL_FAL_QUEUE_URL": f"http://127.0.0.1:{silent_port}",
        "GENCTL_FAL_API_URL": f"http://127.0.0.1:{silent_port}/v1",
    }
    started = time.monotonic()
    run = run_subprocess("doctor", "--json", "--timeout", "0.4", "--provider", "fal", env=env, timeout=30)
    assert time.monotonic() - started < 4.0  # interpreter start-up included
    assert run.exit_code == 1
    checks = {c["id"]: c for c in json.loads(run.stdout)["checks"]}
    assert_check(checks["connectivity.fal.queue_url"], "fail", "network.timeout")
    assert_check(checks["models.fal.fal-ai/flux/schnell"], "fail", "network.timeout")


def test_tls_failure(genctl, sandbox: Sandbox) -> None:
    # The sandbox speaks plain HTTP: an https:// URL to it fails the TLS handshake.
    url = f"https://127.0.0.1:{sandbox.port}/replicate/v1"
    env = {**sandbox.env(), "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK, "GENCTL_REPLICATE_API_URL": url}
    run, checks = doctor_json(genctl, "--provider", "replicate", env=env)
    assert run.exit_code == 1
    check = checks["connectivity.replicate.api_url"]
    assert_check(check, "fail", "network.tls", "CA certificates (SSL_CERT_FILE)")
    assert check["details"]["stage"] == "tls"
    assert check["subject"] == f"127.0.0.1:{sandbox.port}"


def test_sandbox_http_skips_tls(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor_json(genctl, "--provider", "fal", env={**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK})
    assert run.exit_code == 0
    check = checks["connectivity.fal.queue_url"]
    assert "TLS skipped (http)" in check["message"]
    assert {"dns_ms", "connect_ms", "http_ms"} <= set(check["details"])
    assert check["details"]["http_status"] == 405


def test_dead_proxy_is_a_proxy_problem(genctl, sandbox: Sandbox, closed_port: int) -> None:
    proxy = f"http://127.0.0.1:{closed_port}"
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK, "HTTP_PROXY": proxy}
    run, checks = doctor_json(genctl, "--provider", "fal", env=env)
    assert run.exit_code == 1
    check = checks["connectivity.fal.queue_url"]
    assert_check(check, "fail", "network.proxy", "Check HTTP_PROXY, or add 127.0.0.1 to NO_PROXY")
    assert check["message"].startswith("Cannot reach the proxy 127.0.0.1 (from HTTP_PROXY) on the way to fal")
    assert check["details"]["proxy"] == proxy
    assert f"HTTP_PROXY={proxy}" in checks["environment.network"]["message"]
    assert_check(checks["keys.fal.env:FAL_KEY"], "fail", "network.proxy", "HTTP_PROXY")


def test_proxy_password_is_masked(genctl, sandbox: Sandbox) -> None:
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK, "HTTPS_PROXY": "http://me:hunter2@proxy.example:3128"}
    run = genctl("doctor", "--offline", "--verbose", env=env)  # -v: the passing environment check in full
    assert "HTTPS_PROXY=http://me:***@proxy.example:3128" in run.stdout
    assert "hunter2" not in run.stdout + run.stderr


def test_missing_ca_bundle(genctl, sandbox: Sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no-such-ca.pem"
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK, "SSL_CERT_FILE": str(missing)}
    run, checks = doctor_json(genctl, "--provider", "fal", env=env)
    assert run.exit_code == 1
    assert_check(checks["environment.network.ssl_cert_file"], "fail", "network.tls", "Point SSL_CERT_FILE")
    assert_check(checks["connectivity.fal.api_url"], "fail", "network.tls", "SSL_CERT_FILE / SSL_CERT_DIR")
    assert sandbox.requests == []


def test_probes_run_at_once(genctl, sandbox: Sandbox) -> None:
    """6 keys and 5 models on a sandbox adding 0.1 s to every response: the probes overlap."""
    sandbox.configure(response_delay=0.1)
    env = {
        **sandbox.env(),
        "FAL_KEY": ",".join([sk.FAL_KEY_OK, sk.FAL_KEY_OK_2, sk.FAL_KEY_ADMIN]),
        "REPLICATE_API_TOKEN": ",".join(
            [sk.REPLICATE_TOKEN_OK, sk.REPLICATE_TOKEN_OK_2, sk.REPLICATE_TOKEN_INVALID]
        ),
    }
    models = ["fal-ai/flux/dev", "fal-ai/flux/schnell", "fal-ai/flux-pro/v1.1-ultra"]
    models += ["black-forest-labs/flux-schnell", "black-forest-labs/flux-dev"]
    started = time.monotonic()
    run = genctl("doctor", "--json", *(arg for m in models for arg in ("-m", m)), env=env)
    wall = (time.monotonic() - started) * 1000
    doc = json.loads(run.stdout)
    timed = [
        c["details"]
        for c in doc["checks"]
        if c["category"] in ("keys", "models") and "elapsed_ms" in c["details"]
    ]
    assert len(timed) == 11
    total = sum(d["elapsed_ms"] for d in timed)
    assert wall < total / 2  # run one after the other, they would take `total`
    spans = [(d["started_ms"], d["started_ms"] + d["elapsed_ms"]) for d in timed]
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # all were running at one moment
