"""Set-up failures below the provider calls: a broken CA bundle and an unreachable proxy have their codes."""

from __future__ import annotations

import json
import socket

from genctl.sandbox import Sandbox
from tests.support import fal_env


def test_missing_ca_bundle_is_network_tls_not_a_traceback(genctl, sandbox: Sandbox, tmp_path) -> None:
    env = {**fal_env(sandbox), "SSL_CERT_FILE": str(tmp_path / "missing.pem")}
    run = genctl("generate", "a fox", "--json", env=env)
    assert run.exit_code == 7
    err = json.loads(run.stdout)["error"]
    assert err["code"] == "network.tls"
    assert "SSL_CERT_FILE" in err["fix"]
    assert "Traceback" not in run.stderr


def test_unreachable_proxy_is_network_proxy(genctl, sandbox: Sandbox, monkeypatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("NO_PROXY", "")
    env = {**fal_env(sandbox), "GENCTL_FAL_QUEUE_URL": "http://fal-queue.invalid/fal/queue"}
    run = genctl("generate", "a fox", "-m", "fal-ai/flux/dev", "--no-validate", "--json", env=env)
    assert run.exit_code == 7
    err = json.loads(run.stdout)["error"]
    assert err["code"] == "network.proxy"
    assert "HTTP_PROXY" in err["message"] + err["fix"]
