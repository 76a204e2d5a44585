"""genctl.http: retries and their hints, transport-error mapping, curl lines, redaction."""

from __future__ import annotations

import json
import logging
import shlex
import socket
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from genctl.http import (
    RetryPolicy,
    make_client,
    redact,
    redacted_headers,
    retry_hint,
    send,
    to_curl,
    transport_errors,
)
from genctl.values import HttpRequest, Key
from tests.support import FAL_SECRET

REP_SECRET = "r8_Abcdefghijklmnopqrstuvwxyz0123456789Z"
NO_JITTER = RetryPolicy(max_attempts=4, base_delay=0.5, max_wait=30.0, jitter=0.0)
URL = "https://queue.example.test/fal-ai/flux/requests/r1/status"


def fal_key() -> Key:
    return Key(provider="fal", label="env:FAL_KEY", source="env", _secret=FAL_SECRET)


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(handler))


def scripted(*steps: httpx.Response | Exception) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose transport answers with `steps` in order (raising the exceptions)."""
    seen: list[httpx.Request] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return client_for(handler), seen


def get() -> HttpRequest:
    return HttpRequest("GET", URL, headers={"Authorization": f"Key {FAL_SECRET}"}, idempotent=True)


def post() -> HttpRequest:
    return HttpRequest("POST", "https://queue.example.test/fal-ai/flux/dev", json={"prompt": "a fox"})


# -- retry hints ------------------------------------------------------------------------------------------


def test_retry_hint_prefers_header_then_body_then_detail() -> None:
    both = httpx.Response(429, headers={"Retry-After": "7"}, json={"retry_after": 3, "detail": "~9s"})
    assert retry_hint(both) == 7.0
    assert retry_hint(httpx.Response(429, json={"retry_after": 3, "detail": "resets in ~9s."})) == 3.0
    throttled = {"detail": "Request was throttled. Your rate limit resets in ~5s."}
    assert retry_hint(httpx.Response(429, json=throttled)) == 5.0
    assert retry_hint(httpx.Response(429, json={"detail": "slow down"})) is None
    assert retry_hint(httpx.Response(429, text="<html>busy</html>")) is None


def test_retry_hint_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    hint = retry_hint(httpx.Response(503, headers={"Retry-After": when}))
    assert hint is not None and 100 < hint <= 120
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=120), usegmt=True)
    assert retry_hint(httpx.Response(503, headers={"Retry-After": past})) == 0.0


# -- send -------------------------------------------------------------------------------------------------


def test_get_retried_on_503_honouring_retry_after_header() -> None:
    client, seen = scripted(
        httpx.Response(503, headers={"Retry-After": "4"}),
        httpx.Response(429, json={"retry_after": 2}),
        httpx.Response(429, json={"detail": "Your rate limit resets in ~5s."}),
        httpx.Response(200, json={"ok": True}),
    )
    waits: list[float] = []
    retries: list[tuple[int, float, str]] = []
    response = send(
        client, get(), policy=NO_JITTER, sleep=waits.append, on_retry=lambda *a: retries.append(a)
    )
    assert response.status_code == 200
    assert waits == [4.0, 2.0, 5.0]
    assert [r[2] for r in retries] == ["HTTP 503", "HTTP 429", "HTTP 429"]
    assert len(seen) == 4


def test_waits_capped_at_max_wait_and_backoff_without_hint() -> None:
    client, _ = scripted(
        httpx.Response(429, headers={"Retry-After": "600"}),
        httpx.Response(502),
        httpx.Response(504),
        httpx.Response(200),
    )
    waits: list[float] = []
    send(client, get(), policy=NO_JITTER, sleep=waits.append)
    assert waits == [30.0, 1.0, 2.0]  # capped; then base 0.5 · 2^(attempt-1)


def test_jitter_stays_within_bounds() -> None:
    client, _ = scripted(httpx.Response(503, headers={"Retry-After": "10"}), httpx.Response(200))
    waits: list[float] = []
    send(client, get(), policy=RetryPolicy(jitter=0.1, max_wait=30), sleep=waits.append)
    assert 10.0 <= waits[0] <= 11.0


def test_max_attempts_returns_last_response() -> None:
    client, seen = scripted(*[httpx.Response(503) for _ in range(3)])
    waits: list[float] = []
    response = send(client, get(), policy=RetryPolicy(max_attempts=3, jitter=0), sleep=waits.append)
    assert response.status_code == 503
    assert len(seen) == 3 and len(waits) == 2


def test_budget_stops_retrying_early() -> None:
    client, seen = scripted(httpx.Response(429, headers={"Retry-After": "20"}), httpx.Response(200))
    waits: list[float] = []
    response = send(client, get(), policy=NO_JITTER, sleep=waits.append, budget=5.0)
    assert response.status_code == 429 and waits == [] and len(seen) == 1


def test_fal_user_timeout_504_not_retried() -> None:
    client, seen = scripted(httpx.Response(504, headers={"X-Fal-Request-Timeout-Type": "user"}))
    assert send(client, get(), policy=NO_JITTER, sleep=pytest.fail).status_code == 504
    assert len(seen) == 1


def test_paid_post_not_retried_on_503_or_429() -> None:
    for status in (503, 429):
        client, seen = scripted(httpx.Response(status, headers={"Retry-After": "1"}), httpx.Response(200))
        assert send(client, post(), policy=NO_JITTER, sleep=pytest.fail).status_code == status
        assert len(seen) == 1


def test_paid_post_retried_on_connect_error_only() -> None:
    client, seen = scripted(httpx.ConnectError("[Errno 111] Connection refused"), httpx.Response(201))
    waits: list[float] = []
    assert send(client, post(), policy=NO_JITTER, sleep=waits.append).status_code == 201
    assert len(seen) == 2 and waits == [0.5]

    for exc in (
        httpx.ReadTimeout("read timed out"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("eof"),
    ):
        client, seen = scripted(exc, httpx.Response(201))
        with pytest.raises(Exception) as caught:
            send(client, post(), policy=NO_JITTER, sleep=pytest.fail, provider="fal")
        assert len(seen) == 1
        assert caught.value.__cause__ is exc


def test_get_retried_on_read_errors() -> None:
    client, seen = scripted(httpx.ReadTimeout("slow"), httpx.ReadError("reset"), httpx.Response(200))
    waits: list[float] = []
    assert send(client, get(), policy=NO_JITTER, sleep=waits.append).status_code == 200
    assert waits == [0.5, 1.0] and len(seen) == 3


def test_exhausted_transport_error_is_mapped() -> None:
    client, _ = scripted(*[httpx.ConnectError("[Errno 111] Connection refused")] * 2)
    with pytest.raises(Exception) as caught:
        send(
            client, get(), policy=RetryPolicy(max_attempts=2, jitter=0), sleep=lambda s: None, provider="fal"
        )
    err = caught.value
    assert getattr(err, "code", None) == "network.connect"
    assert "queue.example.test" in str(err) and "Connection refused" in str(err)
    assert isinstance(err.__cause__, httpx.ConnectError)


def test_per_request_timeout_overrides_client() -> None:
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200)

    client = client_for(handler)
    send(client, HttpRequest("GET", URL, timeout=70.0), policy=NO_JITTER)
    send(client, HttpRequest("GET", URL), policy=NO_JITTER)
    send(client, HttpRequest("GET", URL, timeout=70.0), policy=NO_JITTER, timeout=3.0)
    assert seen[0]["read"] == 70.0 and seen[0]["connect"] == 2
    assert seen[1]["read"] == 5 and seen[1]["connect"] == 2
    assert seen[2]["read"] == 3.0


def test_make_client_defaults() -> None:
    client = make_client(timeout=30, connect_timeout=10)
    assert client.timeout.read == 30 and client.timeout.connect == 10
    assert client.follow_redirects is True
    assert client.headers["User-Agent"].startswith("genctl/")
    client.close()


# -- transport errors -------------------------------------------------------------------------------------


def _chained(exc: httpx.TransportError, cause: BaseException) -> httpx.TransportError:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (
            _chained(httpx.ConnectError("boom"), socket.gaierror(-2, "Name or service not known")),
            "network.dns",
        ),
        (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"), "network.dns"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "network.connect"),
        (_chained(httpx.ConnectError("handshake"), ssl.SSLCertVerificationError("bad cert")), "network.tls"),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "network.tls"),
        (httpx.ConnectTimeout("timed out"), "network.timeout"),
        (httpx.ReadTimeout("timed out"), "network.timeout"),
        (httpx.ProxyError("407 Proxy Authentication Required"), "network.proxy"),
        (httpx.RemoteProtocolError("Server disconnected"), "network.connect"),
        (
            httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol."),
            "config.invalid",
        ),
    ],
)
def test_transport_errors_mapping(exc: httpx.TransportError, code: str) -> None:
    with pytest.raises(Exception) as caught, transport_errors("replicate", "https://api.replicate.com/v1/x"):
        raise exc
    err = caught.value
    assert getattr(err, "code", None) == code
    assert err.__cause__ is exc
    assert getattr(err, "provider", None) == "replicate"
    assert getattr(err, "fix", "")


def test_transport_errors_passes_other_exceptions() -> None:
    with pytest.raises(KeyError), transport_errors("fal", URL):
        raise KeyError("x")


def test_tls_and_proxy_errors_not_retried() -> None:
    client, seen = scripted(httpx.ProxyError("proxy down"), httpx.Response(200))
    with pytest.raises(Exception, match="proxy"):
        send(client, get(), policy=NO_JITTER, sleep=pytest.fail)
    assert len(seen) == 1


def test_real_refused_connection_maps_to_network_connect() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connect is refused
        client = make_client(timeout=2, connect_timeout=2)
        with pytest.raises(Exception) as caught:
            send(
                client,
                HttpRequest("GET", f"http://127.0.0.1:{port}/x", idempotent=True),
                policy=RetryPolicy(max_attempts=2, jitter=0),
                sleep=lambda s: None,
                provider="fal",
            )
        client.close()
    assert getattr(caught.value, "code", None) == "network.connect"


# -- curl, redaction ---------------------------------------------------------------------------------------


def test_to_curl_masks_fal_key_and_quotes_json() -> None:
    request = HttpRequest(
        "POST",
        "https://queue.fal.run/fal-ai/flux/dev",
        headers={"Authorization": f"Key {FAL_SECRET}", "Accept": "application/json"},
        json={"prompt": 'it\'s a "fox" $HOME `x`', "n": 2},
    )
    line = to_curl(request)
    assert FAL_SECRET not in line and FAL_SECRET.split(":")[1] not in line
    assert '-H "Authorization: Key $FAL_KEY"' in line
    argv = shlex.split(line)
    assert argv[:5] == ["curl", "-sS", "-X", "POST", "https://queue.fal.run/fal-ai/flux/dev"]
    assert json.loads(argv[argv.index("--data-raw") + 1]) == request.json
    assert "Content-Type: application/json" in argv


def test_to_curl_replicate_bearer_and_params() -> None:
    request = HttpRequest(
        "GET",
        "https://api.replicate.com/v1/predictions/abc",
        headers={"Authorization": f"Bearer {REP_SECRET}"},
        params={"logs": "1"},
    )
    line = to_curl(request)
    assert REP_SECRET not in line
    assert line == (
        "curl -sS 'https://api.replicate.com/v1/predictions/abc?logs=1' "
        '-H "Authorization: Bearer $REPLICATE_API_TOKEN"'
    )


def test_to_curl_multipart() -> None:
    request = HttpRequest(
        "POST", "https://api.replicate.com/v1/files", files={"content": ("a b.png", b"x", "image/png")}
    )
    assert shlex.split(to_curl(request))[-2:] == ["-F", "content=@a b.png;type=image/png"]


def test_redact_and_headers() -> None:
    key = fal_key()
    text = f"sent Key {FAL_SECRET} and later only {FAL_SECRET.split(':')[1]} and {REP_SECRET}"
    cleaned = redact(text, [key, REP_SECRET])
    assert FAL_SECRET not in cleaned and FAL_SECRET.split(":")[1] not in cleaned and REP_SECRET not in cleaned
    assert key.masked in cleaned
    headers = redacted_headers({"Authorization": f"Bearer {REP_SECRET}", "Accept": "x"})
    assert headers == {"Authorization": "Bearer r8_A…789Z", "Accept": "x"}


def test_http_request_repr_hides_headers() -> None:
    assert FAL_SECRET not in repr(get())


def test_debug_log_never_shows_the_key(caplog: pytest.LogCaptureFixture) -> None:
    client, _ = scripted(httpx.Response(503), httpx.Response(200))
    with caplog.at_level(logging.DEBUG, logger="genctl.http"):
        send(client, get(), policy=NO_JITTER, sleep=lambda s: None)
    assert caplog.records
    assert FAL_SECRET not in caplog.text and FAL_SECRET.split(":")[1] not in caplog.text
