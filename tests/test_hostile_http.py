"""Hostile servers (issue 12): gzip garbage, redirect loops, absurd Retry-After, a submit answer naming
another host, a key echoed back encoded: each a one-line error with its code, never a traceback, never
Infinity in the state or in --json; the key goes only where it was configured to go."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from genctl.errors import GenctlError
from genctl.http import MAX_RETRY_HINT, RetryPolicy, redact, retry_hint, same_host, send
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from genctl.values import HttpRequest, Key
from tests.hostile_support import GZIP_GARBAGE, Answer, HostileServer, Script, Seen

OK = sk.FAL_KEY_OK
FAL = ("-m", "fal-ai/flux/schnell")


def strict_json(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def proxied(sandbox: Sandbox) -> Iterator[tuple[HostileServer, dict[str, str]]]:
    """A hostile server in front of the sandbox's fal queue and API; the test sets its script."""
    server = HostileServer(lambda seen, upstream: None, upstream=sandbox.url)
    env = {
        **sandbox.env(),
        "GENCTL_FAL_QUEUE_URL": f"{server.url}/fal/queue",
        "GENCTL_FAL_API_URL": f"{server.url}/fal/api/v1",
        "FAL_KEY": OK,
    }
    with server.running():
        yield server, env


def submit_only(answer: Answer) -> Script:
    def script(seen: Seen, upstream: Answer | None) -> Answer | None:
        return answer if seen.method == "POST" and seen.path.startswith("/fal/queue/") else None

    return script


def assert_one_error(stderr: str, code: str) -> None:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error [")]
    assert len(errors) == 1 and errors[0].startswith(f"Error [{code}]: "), stderr
    assert stderr.splitlines()[-1].startswith("Fix: ")


# -- Retry-After ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1e999", MAX_RETRY_HINT),
        ("100000000000000000", MAX_RETRY_HINT),
        ("-5", 0.0),
        ("nan", None),
        ("7", 7.0),
    ],
)
def test_retry_after_is_clamped(header: str, expected: float | None) -> None:
    response = httpx.Response(429, headers={"retry-after": header})
    assert retry_hint(response) == expected


def test_retry_after_in_the_body_and_a_far_date_are_clamped() -> None:
    assert retry_hint(httpx.Response(429, json={"retry_after": 1e308})) == MAX_RETRY_HINT
    far = httpx.Response(429, headers={"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"})
    assert retry_hint(far) == MAX_RETRY_HINT


@pytest.mark.parametrize("header", ["1e999", "100000000000000000"])
def test_one_absurd_retry_after_breaks_nothing(genctl, proxied, home: Path, header: str) -> None:
    server, env = proxied
    server.script = submit_only(Answer(429, {"retry-after": header}, b'{"detail": "slow down"}'))
    run = genctl("generate", "a fox", *FAL, "--json", env=env)
    assert run.exit_code == 6
    error = strict_json(run.stdout)["error"]  # type: ignore[index]
    assert error["code"] == "rate.limited"
    state = (home / "state" / "keys.json").read_text()
    assert "Infinity" not in state and "NaN" not in state
    for record in strict_json(state)["providers"]["fal"]["keys"].values():  # type: ignore[index]
        assert all(math.isfinite(v) for v in record.values() if isinstance(v, float))
    # Every later reader still works.
    server.script = lambda seen, upstream: None
    for args, code in [
        (["keys", "status", "--json"], 0),
        (["keys", "status", "--check", "--json"], 0),
        (["doctor", "--json", "--offline"], 0),
        (["generate", "a fox", *FAL, "--json"], 6),  # the key rests a day: said, not a crash
    ]:
        later = genctl(*args, env=env)
        assert later.exit_code == code, (args, later.stderr)
        strict_json(later.stdout)
        assert "Traceback" not in later.stderr


# -- transport faults the mapping did not know -----------------------------------------------------


def test_gzip_garbage_submit_is_one_line(genctl, proxied) -> None:
    server, env = proxied
    server.script = submit_only(
        Answer(200, {"content-encoding": "gzip", "content-type": "application/json"}, GZIP_GARBAGE)
    )
    run = genctl("generate", "a fox", *FAL, env=env)
    assert run.exit_code == 7
    assert_one_error(run.stderr, "provider.unavailable")
    assert "cannot be decoded" in run.stderr
    # The submit went out whole: its job may exist, recorded as unconfirmed, and the fix names the finder.
    assert run.stderr.splitlines()[-1].startswith("Fix: `genctl result --pending` finds the job in fal's")


def gzip_everywhere(seen: Seen, upstream: Answer | None) -> Answer:
    return Answer(200, {"content-encoding": "gzip", "content-type": "application/json"}, GZIP_GARBAGE)


def redirect_loop(seen: Seen, upstream: Answer | None) -> Answer:
    return Answer(302, {"location": seen.path}, b"")


@pytest.mark.parametrize("script", [gzip_everywhere, redirect_loop], ids=["gzip", "redirects"])
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["generate", "a fox", *FAL, "--no-validate"], 7),
        (["models", "show", "fal-ai/flux/schnell", "--refresh"], 7),
        (["keys", "status", "--check"], 0),
        (["doctor"], 1),
    ],
)
def test_hostile_bodies_in_every_command(genctl, proxied, script: Script, args: list[str], code: int) -> None:
    server, env = proxied
    server.script = script
    run = genctl(*args, env=env)
    assert "Traceback" not in run.stderr
    assert run.exit_code == code, run.stderr
    if args[0] == "generate":
        assert_one_error(run.stderr, "provider.unavailable")


def test_invalid_url_at_send_time_is_config_invalid() -> None:
    with httpx.Client() as client, pytest.raises(GenctlError) as caught:
        send(client, HttpRequest("GET", "http://[::1/x", idempotent=True), policy=RetryPolicy(max_attempts=1))
    assert caught.value.code == "config.invalid"


def test_redirect_loop_on_a_mock_transport() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(302, headers={"location": str(request.url)})
    )
    with (
        httpx.Client(transport=transport, follow_redirects=True) as client,
        pytest.raises(GenctlError) as caught,
    ):
        send(
            client,
            HttpRequest("GET", "http://gw.test/x", idempotent=True),
            policy=RetryPolicy(max_attempts=1),
        )
    assert (caught.value.code, caught.value.exit_code) == ("provider.unavailable", 7)
    assert caught.value.message.startswith("gw.test redirects in a loop")


# -- the key goes only to the configured hosts -----------------------------------------------------


def test_status_urls_naming_another_host_get_no_key(genctl, proxied, tmp_path: Path) -> None:
    server, env = proxied
    capture = HostileServer(lambda seen, upstream: Answer(200, {}, b"{}"))

    def elsewhere(seen: Seen, upstream: Answer | None) -> Answer | None:
        if upstream is None or not (seen.method == "POST" and seen.path.startswith("/fal/queue/")):
            return None
        body = json.loads(upstream.body)
        for name in ("status_url", "response_url", "cancel_url"):
            body[name] = f"{capture.url}/steal/{name}"
        return Answer(upstream.status, {"content-type": "application/json"}, json.dumps(body).encode())

    server.script = elsewhere
    with capture.running():
        run = genctl("generate", "a fox", *FAL, "--json", env=env)
    assert run.exit_code == 0, run.stderr
    assert capture.seen == []
    assert (tmp_path / strict_json(run.stdout)["outputs"][0]["path"]).exists()  # type: ignore[index]


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://queue.fal.run/a/requests/1/status", True),
        ("https://evil.example/a/requests/1/status", False),
        ("http://queue.fal.run/a/requests/1/status", False),  # a downgrade to plain HTTP
        ("https://queue.fal.run:8443/a", False),
        ("https://u:p@queue.fal.run/a", False),
        ("https://[::1/a", False),
        (42, False),
    ],
)
def test_same_host(url: object, kept: bool) -> None:
    assert (same_host(url, "https://queue.fal.run") is not None) is kept


# -- redaction --------------------------------------------------------------------------------------

SECRET = "6f1c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f:8c2f9a4e1b7d6c3a5e0f9b8d7c6a5e4f"
HALF = SECRET.split(":")[1]


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        repr("Key " + SECRET[:10] + "\n" + SECRET[10:]),  # what httpx quoted for a key with a line break
        json.dumps(SECRET),
        SECRET.replace(":", "%3A"),
        SECRET.replace(":", "%3a"),
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(b"x" + SECRET.encode()).decode(),
        base64.b64encode(b"xy" + SECRET.encode()).decode(),
        base64.b64encode(f"user:{SECRET}".encode()).decode(),  # Basic auth of the key
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        HALF,
        base64.b64encode(HALF.encode()).decode(),
    ],
)
def test_redaction_covers_every_form(form: str) -> None:
    key = Key(provider="fal", label="k", source="test", _secret=SECRET)
    broken = Key(provider="fal", label="k", source="test", _secret=SECRET[:10] + "\n" + SECRET[10:])
    out = redact(f"the server said: {form}.", [key, broken])
    assert HALF[4:-4] not in out and SECRET[8:30] not in out
    for encoded in (
        base64.b64encode(SECRET.encode()).decode()[4:-4],
        base64.b64encode(HALF.encode()).decode()[4:-4],
    ):
        assert encoded not in out


def test_redaction_masks_url_passwords() -> None:
    assert redact("via http://me:hunter2@gw:3128/x and https://tok123@h/", []) == (
        "via http://me:***@gw:3128/x and https://***@h/"
    )


def test_a_server_echoing_the_key_base64_is_redacted(genctl, proxied) -> None:
    server, env = proxied
    echoed = base64.b64encode(f"Key {OK}".encode()).decode()
    body = json.dumps({"detail": f"bad credentials {echoed}"}).encode()
    server.script = submit_only(Answer(401, {"content-type": "application/json"}, body))
    run = genctl("--debug", "generate", "a fox", *FAL, "--json", env=env)
    assert run.exit_code == 3
    for text in (run.stdout, run.stderr):
        assert echoed[8:-8] not in text
        assert OK.split(":")[1] not in text
