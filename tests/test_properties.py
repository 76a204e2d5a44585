"""Property-based hostile input (#12), with hypothesis: generated config files, env values, `-p`/`-i`
values, prompts (non-UTF-8 bytes too) and provider answers (status, headers, encodings, bodies — some
echoing the key) drive the real CLI (in-process through CliRunner, the same code path as the console
script) and the real wire parsers. The property everywhere: the exit code is one of the documented table
(errors.CODES, or 0), no traceback, stdout is strict JSON under --json, no form of the key in any output or
file under GENCTL_HOME, and `genctl keys status` / `genctl history` still exit 0 afterwards.

Profiles: `ci` (default: derandomized, few examples, no deadline — a shared 2-core machine must not flake)
and `dev` (HYPOTHESIS_PROFILE=dev: many more examples, random seeds) for longer local runs."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from genctl.echoes import MIN_ECHO
from genctl.errors import CODES, GenctlError
from genctl.http import redact
from genctl.providers import fal_wire, replicate_wire
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from tests.hostile_support import GZIP_GARBAGE, Answer, HostileServer, Seen
from tests.leak_support import home_text, key_forms, leaks
from tests.support import FAL_SECRET

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=8,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking in CI: a failure prints its example
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
# dev runs hundreds of CLI examples a test, minutes with shrinking: pytest's 60 s (pyproject) would cut them
# off mid-run and report a "hang" (what kept test_hostile_config_files skipped, #12)
pytestmark = [pytest.mark.timeout(0)] if PROFILE == "dev" else []

KEY = sk.FAL_KEY_OK
EXITS = {0} | {code for code, _ in CODES.values()}
FAL = ("-m", "fal-ai/flux/schnell")


def strict_json_lines(text: str) -> list[Any]:
    def refuse(name: str) -> object:
        raise AssertionError(f"{name} in JSON output")

    return [json.loads(line, parse_constant=refuse) for line in text.splitlines() if line.strip()]


def check(run: Any, home: Path, *, json_out: bool, dry: bool = True, besides: tuple[Path, ...] = ()) -> None:
    """The property every generated run must keep (`besides`: files the test wrote the key into itself)."""
    assert run.exit_code in EXITS, (run.exit_code, run.stderr)
    assert "Traceback" not in run.stdout + run.stderr
    assert leaks(run.stdout + run.stderr, KEY) == []
    if home.exists():
        assert leaks(home_text(home, besides=besides), KEY) == []
    if run.exit_code != 0:
        errors = [line for line in run.stderr.splitlines() if line.startswith("Error [")]
        assert len(errors) == 1, run.stderr
        code = errors[0].removeprefix("Error [").split("]", 1)[0]
        assert CODES[code][0] == run.exit_code
    if json_out and run.exit_code == 0 and dry:
        # README: --dry-run --json is the request as one document, its curl line with the key as $FAL_KEY
        assert strict_json_lines(run.stdout), run.stdout
        assert json.loads(run.stdout)["curl"].startswith("curl "), run.stdout
    elif json_out:
        assert strict_json_lines(run.stdout), run.stdout


def still_readable(genctl: Any) -> None:
    for args in (("keys", "status"), ("history",)):
        run = genctl(*args)
        assert run.exit_code == 0, (args, run.stderr)
        assert "Traceback" not in run.stderr


@pytest.fixture
def box_env(sandbox: Sandbox) -> dict[str, str]:
    return {**sandbox.env(), "FAL_KEY": KEY}


# -- flags, env values, prompts ---------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["NaN", "Infinity", "-1e999", "1e999", "[" * 3000, "{", "\x00", "\u200b", "=", ":=", ""]),
    st.binary(max_size=20).map(os.fsdecode),  # what non-UTF-8 argv bytes become in Python
)


@given(name=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8), value=hostile_text)
def test_hostile_p_values(genctl, box_env, hermetic_env: Path, name: str, value: str) -> None:
    for form in (f"{name}={value}", f"{name}:={value}"):
        run = genctl(
            "generate", "a fox", *FAL, "-p", form, "--no-validate", "--dry-run", "--json", env=box_env
        )
        check(run, hermetic_env, json_out=True)


@given(value=hostile_text)
def test_hostile_i_values(genctl, box_env, hermetic_env: Path, value: str) -> None:
    run = genctl(
        "generate",
        "a fox",
        "-m",
        "fal-ai/flux/dev/image-to-image",
        "-i",
        f"image_url={value}",
        "--dry-run",
        "--json",
        env=box_env,
    )
    check(run, hermetic_env, json_out=True)


@given(prompt=st.one_of(st.text(max_size=60), st.binary(max_size=60).map(os.fsdecode)))
def test_hostile_prompts_from_argv_and_stdin(genctl, box_env, hermetic_env: Path, prompt: str) -> None:
    check(genctl("generate", prompt, *FAL, "--dry-run", "--json", env=box_env), hermetic_env, json_out=True)
    run = genctl(
        "generate",
        "-",
        *FAL,
        "--dry-run",
        "--json",
        env=box_env,
        input=prompt.encode("utf-8", "surrogateescape"),
    )
    check(run, hermetic_env, json_out=True)


ENV_NAMES = [
    "GENCTL_TIMEOUT",
    "GENCTL_CONCURRENCY",
    "GENCTL_KEY_COOLDOWN",
    "GENCTL_PROVIDER",
    "GENCTL_FAL_QUEUE_URL",
]


@given(name=st.sampled_from(ENV_NAMES), value=hostile_text.filter(lambda v: "\x00" not in v))
def test_hostile_env_values(
    genctl, box_env, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    run = genctl("generate", "a fox", *FAL, "--dry-run", "--json", env={**box_env, name: value})
    check(run, hermetic_env, json_out=True)
    monkeypatch.setenv(name, box_env.get(name, ""))
    if name not in box_env:
        monkeypatch.delenv(name)
    still_readable(genctl)


# -- config files -----------------------------------------------------------------------------------

SETTINGS = {
    "defaults": [
        "timeout",
        "concurrency",
        "key_cooldown",
        "output_dir",
        "provider",
        "upload_threshold",
        "fallback",
    ],
    "providers.fal": ["queue_url", "api_url", "keys", "timeout"],
    "history": ["enabled"],
}
toml_value = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(f), repr(f))
    ),
    st.text(max_size=20).map(json.dumps),
    st.sampled_from(
        [
            '"http://[::1"',
            '"http://h:abc/"',
            '"http://u:p@h/"',
            "[" * 5000 + "]" * 5000,
            "true",
            "[]",
            "{}",
            '"' + KEY + '"',
        ]
    ),
)


@given(
    entries=st.lists(st.tuples(st.sampled_from(sorted(SETTINGS)), st.data()), max_size=3),
    garbage=st.one_of(
        st.just(""), st.text(max_size=30), st.binary(max_size=30).map(lambda b: b.decode("latin-1"))
    ),
)
def test_hostile_config_files(genctl, box_env, hermetic_env: Path, entries: list[Any], garbage: str) -> None:
    lines = []
    for section, data in entries:
        name = data.draw(st.sampled_from(SETTINGS[section]))
        lines.append(f"[{section}]\n{name} = {data.draw(toml_value)}\n")
    hermetic_env.mkdir(parents=True, exist_ok=True)
    config = hermetic_env / "config.toml"
    config.write_bytes(("".join(lines) + garbage).encode("utf-8", "surrogateescape"))
    config.chmod(0o600)
    run = genctl("config", "show", "--json", env=box_env)
    check(run, hermetic_env, json_out=True, dry=False, besides=(config,))
    run = genctl("generate", "a fox", *FAL, "--dry-run", "--json", env=box_env)
    check(run, hermetic_env, json_out=True, besides=(config,))
    config.unlink()
    still_readable(genctl)


# -- provider answers -------------------------------------------------------------------------------

statuses = st.sampled_from(
    [200, 201, 202, 204, 301, 302, 400, 401, 403, 404, 409, 413, 418, 422, 499, 500, 501]
)
header_values = st.one_of(
    hostile_text.filter(lambda v: v.isprintable() and v.isascii()),
    st.sampled_from(["gzip", "br", "deflate", "1e999", "-5", "application/json", "text/html"]),
)


def bodies(key: str) -> st.SearchStrategy[bytes]:
    forms = list(key_forms(key, for_grep=False).values())
    return st.one_of(
        st.binary(max_size=200),
        st.just(GZIP_GARBAGE),
        st.recursive(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(allow_nan=False),
                st.text(max_size=20),
                st.sampled_from(forms),
            ),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "request_id",
                            "status",
                            "status_url",
                            "response_url",
                            "detail",
                            "error",
                            "images",
                            "url",
                            "output",
                        ]
                    ),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps(v).encode()),
        st.sampled_from(forms).map(lambda f: f"<html>{f}</html>".encode()),
    )


@pytest.fixture
def hostile(sandbox: Sandbox) -> Iterator[tuple[HostileServer, dict[str, str]]]:
    server = HostileServer(lambda seen, upstream: None, upstream=sandbox.url)
    # genctl hanging up mid-answer (its --timeout ran out) is no server error: without this, the server
    # thread's BrokenPipe traceback lands in the stderr the property greps for "Traceback"
    server._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    env = {**sandbox.env(), "GENCTL_FAL_QUEUE_URL": f"{server.url}/fal/queue", "FAL_KEY": KEY}
    with server.running():
        yield server, env


@given(
    status=statuses,
    headers=st.dictionaries(
        st.sampled_from(["content-type", "content-encoding", "retry-after", "location", "x-fal-request-id"]),
        header_values,
        max_size=3,
    ),
    body=bodies(KEY),
    target=st.sampled_from(["submit", "status", "result"]),
)
def test_hostile_provider_answers(
    genctl, hostile, hermetic_env: Path, status: int, headers: dict[str, str], body: bytes, target: str
) -> None:
    server, env = hostile
    answer = Answer(status, headers, body)

    def script(seen: Seen, upstream: Answer | None) -> Answer | None:
        is_submit = seen.method == "POST" and seen.path.startswith("/fal/queue/")
        is_status = seen.method == "GET" and seen.path.endswith("/status")
        is_result = seen.method == "GET" and "/requests/" in seen.path and not seen.path.endswith("/status")
        return answer if {"submit": is_submit, "status": is_status, "result": is_result}[target] else None

    server.script = script
    run = genctl("generate", "a fox", *FAL, "--no-validate", "--timeout", "20", "--json", env=env)
    check(run, hermetic_env, json_out=True, dry=False)
    still_readable(genctl)


# -- rate limits and server errors: absurd hints, random bodies --------------------------------------

retry_afters = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "1e999",
            "100000000000000000",
            "-5",
            "nan",
            "inf",
            "0",
            "0.05",
            "3",
            "Wed, 21 Oct 2015 07:28:00 GMT",  # in the past
            "Fri, 31 Dec 9999 23:59:59 GMT",  # the far future
            "Mon, 99 Foo 2020 99:99:99 GMT",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
)


@given(
    status=st.sampled_from([429, 500, 502, 503, 504]),
    retry_after=retry_afters,
    body=st.one_of(
        st.binary(max_size=120),
        st.sampled_from(
            [
                b'{"detail": "Rate limit exceeded", "retry_after": 1e999}',
                b'{"retry_after": -1}',
                b'{"detail": "Request was throttled. Expected available in 99999999999999999999 seconds."}',
                b'{"detail": "resets in ~1e308s"}',
            ]
        ),
    ),
    target=st.sampled_from(["submit", "status"]),
)
def test_hostile_rate_limits_and_server_errors(
    genctl, hostile, hermetic_env: Path, status: int, retry_after: str | None, body: bytes, target: str
) -> None:
    """Every answer a retry could wait for, through the real CLI: the retry policy and the key failover
    wait only what fits in --timeout (0.3 s here), so no example sleeps longer, whatever the hint says;
    the key state stays readable (no Infinity, no overflowing time)."""
    server, env = hostile
    shutil.rmtree(hermetic_env, ignore_errors=True)  # each example from a clean key state
    headers = {"content-type": "application/json"} | ({"retry-after": retry_after} if retry_after else {})
    answer = Answer(status, headers, body)

    def script(seen: Seen, upstream: Answer | None) -> Answer | None:
        is_submit = seen.method == "POST" and seen.path.startswith("/fal/queue/")
        is_status = seen.method == "GET" and "/status" in seen.path  # the poll and the SSE stream
        return answer if (is_submit if target == "submit" else is_status) else None

    server.script = script
    run = genctl("generate", "a fox", *FAL, "--no-validate", "--timeout", "0.3", "--json", env=env)
    check(run, hermetic_env, json_out=True, dry=False)
    assert run.exit_code != 0, run.stdout  # no answer here was ever a success
    run = genctl("keys", "status", "--json")  # the state the rate limit wrote reads back as strict JSON
    assert run.exit_code == 0 and strict_json_lines(run.stdout), run.stdout


# -- the real parsers -------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
fal_bodies = st.dictionaries(
    st.sampled_from(
        ["status", "logs", "metrics", "queue_position", "error", "error_type", "request_id", "detail"]
    ),
    json_values,
    max_size=5,
)


@given(body=fal_bodies, default=st.one_of(st.none(), st.sampled_from(["IN_QUEUE", "COMPLETED", "junk"])))
def test_fal_status_parser_raises_only_genctl_errors(body: dict[str, Any], default: str | None) -> None:
    try:
        fal_wire.status_from(body, default=default)
    except GenctlError as exc:
        assert exc.code in CODES


@given(
    status=st.integers(min_value=200, max_value=599),
    headers=st.dictionaries(
        st.sampled_from(
            ["x-fal-request-id", "x-fal-error-type", "x-fal-request-timeout-type", "content-type"]
        ),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
        max_size=3,
    ),
    body=json_values,
)
def test_fal_response_parsers_raise_only_genctl_errors(
    status: int, headers: dict[str, str], body: Any
) -> None:
    response = httpx.Response(
        status, headers=headers, json=body, request=httpx.Request("GET", "https://queue.fal.run/x/requests/1")
    )
    for parse in (
        lambda: fal_wire.request_id_of(response),
        lambda: fal_wire.error_type(response),
        lambda: fal_wire.empty_result(response, body),
        lambda: fal_wire.not_charged(response),
        lambda: fal_wire.user_timeout(response),
    ):
        try:
            parse()
        except GenctlError as exc:
            assert exc.code in CODES


@given(output=json_values, text=st.text(max_size=80))
def test_replicate_output_parsers_never_crash(output: Any, text: str) -> None:
    replicate_wire.is_empty_output(output)
    url = replicate_wire.first_url(text)
    assert url is None or url in text


# -- partial base64 echoes (redaction) --------------------------------------------------------------

REPLICATE_SECRET = "r8_Zq9XwV3kLm7Np2Rt5Yb8Cd4Fg6Hj1Ks0Qe3"
SECRETS = [KEY, FAL_SECRET, REPLICATE_SECRET]


def encodings(secret: str) -> list[str]:
    """The base64 forms of a secret at the 3 byte alignments, standard and URL-safe, of the whole key and
    of a fal key's secret half: a slice of MIN_ECHO characters of any of them must never survive."""
    parts = [secret, *([secret.split(":", 1)[1]] if ":" in secret else [])]
    return [
        encode(part.encode()[start:]).decode()
        for part in parts
        for start in range(3)
        for encode in (base64.b64encode, base64.urlsafe_b64encode)
    ]


def surviving(text: str, secret: str) -> list[str]:
    return [
        form[at : at + MIN_ECHO]
        for form in encodings(secret)
        for at in range(len(form) - MIN_ECHO + 1)
        if form[at : at + MIN_ECHO] in text
    ]


filler = st.text(st.characters(codec="ascii", exclude_characters="@"), max_size=12)


@settings(max_examples=max(100, settings.default.max_examples))  # fast: no CLI run
@given(
    secret=st.sampled_from(SECRETS),
    half=st.booleans(),
    before=st.binary(max_size=5),
    after=st.binary(max_size=5),
    urlsafe=st.booleans(),
    cut=st.tuples(st.integers(0, 200), st.integers(0, 200)),
    around=st.tuples(filler, filler),
    repeat=st.integers(1, 3),
)
def test_no_slice_of_an_echoed_base64_key_survives_redaction(
    secret: str,
    half: bool,
    before: bytes,
    after: bytes,
    urlsafe: bool,
    cut: tuple[int, int],
    around: tuple[str, str],
    repeat: int,
) -> None:
    """A server base64-encodes what it was sent around the key (any bytes before and after it: the 3
    alignments) and echoes a slice cut anywhere, between any text, perhaps several times."""
    part = secret.split(":", 1)[1] if half and ":" in secret else secret
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    encoded = encode(before + part.encode() + after).decode()
    start, length = cut[0] % len(encoded), cut[1]
    echo = around[0] + encoded[start : start + length] + around[1]
    out = redact(echo * repeat, [secret])
    assert surviving(out, secret) == [], (echo, out)


@settings(max_examples=max(60, settings.default.max_examples))
@given(
    text=st.one_of(
        st.text(st.characters(exclude_characters="@"), max_size=200),
        st.binary(max_size=150).map(lambda b: base64.b64encode(b).decode()),
        st.binary(max_size=150).map(lambda b: "said " + base64.urlsafe_b64encode(b).decode() + "."),
    ),
    secret=st.sampled_from(SECRETS),
)
def test_redaction_leaves_text_without_an_echo_alone(text: str, secret: str) -> None:
    """Ordinary text, and base64 of anything that is not the key, comes out unchanged."""
    if surviving(text, secret) or any(form in text for form in key_forms(secret).values()):
        return  # hypothesis found the key itself: not ordinary text
    assert redact(text, [secret]) == text
