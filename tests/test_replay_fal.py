"""fal queue exchanges as the reference describes them, through the real runner on an httpx.MockTransport.

fal publishes no recordings of its queue. Each case below is built from a sequence that
shared/reference/fal-api.md documents, and cites its section and the primary source that section names
(fal's own runtime and end-to-end tests at fal-ai/fal @c6f0afaa, fal's docs, fal's generated per-endpoint
OpenAPI in shared/recordings/fal/seedream_openapi.json). Bodies are the verbatim ones quoted there; what the
reference marks UNVERIFIED is run both ways.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from replay import recordings_dir

from genctl.catalog.preflight import not_found
from genctl.config import load_settings
from genctl.errors import GenctlError
from genctl.generation import GenerationRequest, generate
from genctl.http import RetryPolicy, make_client
from genctl.providers.base import Job, ModelInfo, Output
from genctl.providers.fal import FalProvider
from genctl.runner import cancel, cancel_accepted, run_generation
from genctl.values import Key
from tests.support import FAL_SECRET, FakeTime

SECRET = FAL_SECRET
KEY = Key(provider="fal", label="env:FAL_KEY", source="env", _secret=SECRET)
Q = "https://queue.fal.run"
RID = "80e732af-660e-45cd-bd63-580e4f2a94cc"  # the request id of the docs' submit example (§1.3)
fal = FalProvider(queue_url=Q)
Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]] | Callable[[httpx.Request], httpx.Response]


class Exchanges:
    """(method, path) -> answers in order; the last one repeats (a retried GET sees it again)."""

    def __init__(self, routes: dict[tuple[str, str], list[Answer]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answers = self.routes[request.method, request.url.path]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer):
            return answer(request)
        status, body, *rest = answer
        headers = {"x-fal-request-id": RID, **(rest[0] if rest else {})}
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def submitted(app: str) -> tuple[int, dict[str, str]]:
    """The submit answer of §1.3 (docs example), for an app's own owner/app URLs."""
    base = f"{Q}/{app}/requests/{RID}"
    return (
        200,
        {
            "request_id": RID,
            "status": "IN_QUEUE",
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        },
    )


def run(
    model: str, routes: dict[tuple[str, str], list[Answer]], **kwargs: Any
) -> tuple[Exchanges, Any, GenctlError | None]:
    server = Exchanges(routes)
    t = FakeTime()
    http = make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(server))
    try:
        with http:
            job, result = run_generation(
                provider=fal,
                client=http,
                model=model,
                params={"prompt": "a fox"},
                key=KEY,
                clock=t.clock,
                sleep=t.sleep,
                policy=RetryPolicy(jitter=0.0),
                **kwargs,
            )
    except GenctlError as err:
        return server, None, err
    return server, (job, result), None


def app_routes(
    app: str, model: str, *, status: list[Answer], result: list[Answer]
) -> dict[tuple[str, str], list[Answer]]:
    base = f"/{app}/requests/{RID}"
    return {
        ("POST", f"/{model}"): [submitted(app)],
        ("GET", f"{base}/status"): status,
        ("GET", base): result,
        ("PUT", f"{base}/cancel"): [(200, {"status": "ALREADY_COMPLETED"})],
    }


COMPLETED_AT_ONCE = (200, {"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 0.05}})


# -- a wrong endpoint path: accepted, completed at once, then `Path … not found` -------------------------
# fal-api.md §2.2 (turn-2 correction), from fal's runtime `projects/fal/src/fal/api/api.py` 404 handler
# (fal-ai/fal @c6f0afaa): `headers["x-fal-billable-units"] = "0"; JSONResponse({"detail": f"Path
# {request.url.path} not found"}, 404)`, and its e2e tests `test_404_response`, `test_404_billable_units`.


@pytest.mark.parametrize(("billed", "charged_note"), [({"x-fal-billable-units": "0"}, True), ({}, False)])
def test_wrong_subpath_is_model_not_found_not_expired(billed: dict[str, str], charged_note: bool) -> None:
    routes = app_routes(
        "fal-ai/flux",
        "fal-ai/flux/foo",
        status=[COMPLETED_AT_ONCE],
        result=[(404, {"detail": "Path /foo not found"}, billed)],
    )
    server, _, err = run("fal-ai/flux/foo", routes)
    assert err is not None
    assert (err.code, err.exit_code, err.http_status, err.request_id) == ("model.not_found", 4, 404, RID)
    note = " Nothing was charged." if charged_note else ""
    assert err.message == (
        "fal has no endpoint 'fal-ai/flux/foo': the app exists but has no path /foo "
        f"(Path /foo not found).{note}"
    )
    assert (
        err.fix
        == "Check the path after owner/app in the endpoint id (e.g. fal-ai/flux/dev) at fal.ai/models."
    )
    assert err.details == {"endpoint_id": "fal-ai/flux/foo", "path": "/foo"}
    assert server.paths() == [
        "POST /fal-ai/flux/foo",
        f"GET /fal-ai/flux/requests/{RID}/status",
        f"GET /fal-ai/flux/requests/{RID}",
    ]


def test_wrong_subpath_of_a_deep_id() -> None:
    """A stale `fal-ai/kling-video/v2.1/standard/text-to-video`: the runtime names the path after the app."""
    model = "fal-ai/kling-video/v2.1/standard/text-to-video"
    detail = {"detail": "Path /v2.1/standard/text-to-video not found"}
    routes = app_routes(
        "fal-ai/kling-video",
        model,
        status=[(202, {"status": "IN_QUEUE", "queue_position": 0}), COMPLETED_AT_ONCE],
        result=[(404, detail, {"x-fal-billable-units": "0"})],
    )
    _, _, err = run(model, routes)
    assert err is not None and (err.code, err.details["endpoint_id"]) == ("model.not_found", model)


def test_a_plain_404_on_a_result_is_still_expired() -> None:
    """Not every 404 on a result is a wrong path: a result past its retention (§1.1) stays output.expired."""
    routes = app_routes(
        "fal-ai/flux",
        "fal-ai/flux/dev",
        status=[COMPLETED_AT_ONCE],
        result=[(404, {"detail": "Request not found"})],
    )
    _, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None and (err.code, err.exit_code) == ("output.expired", 1)


def test_the_path_error_gets_the_ranked_did_you_mean() -> None:
    """generation.py hands every ModelError from the runner to catalog.preflight.explain, which ranks ids;
    here its ranking step on the error the runner raised, over a catalogue of two fal endpoints."""
    routes = app_routes(
        "fal-ai/flux",
        "fal-ai/flux/deev",
        status=[COMPLETED_AT_ONCE],
        result=[(404, {"detail": "Path /deev not found"}, {"x-fal-billable-units": "0"})],
    )
    _, _, err = run("fal-ai/flux/deev", routes)
    assert err is not None

    class Catalogue:
        def near_ids(self, provider: str, model_id: str) -> list[str]:
            return []

        def candidates(self, provider: str, hint: str, *, whole: bool = True) -> list[ModelInfo]:
            if provider != "fal":
                return []
            return [
                ModelInfo(id="fal-ai/flux/dev", provider="fal"),
                ModelInfo(id="fal-ai/recraft/v3", provider="fal"),
            ]

    better = not_found(err, model="fal-ai/flux/deev", provider="fal", catalog=Catalogue())  # type: ignore[arg-type]
    assert (better.code, better.request_id, better.message) == (err.code, RID, err.message)
    assert better.fix.startswith("Did you mean fal-ai/flux/dev?")
    assert better.details["suggestions"][0] == {"provider": "fal", "id": "fal-ai/flux/dev"}
    assert better.details["endpoint_id"] == "fal-ai/flux/deev"


# -- a job cancelled while running: its result answers 499 ----------------------------------------------
# fal-api.md §2.2 row 499, from fal's e2e `test_app_cancellation` (fal-ai/fal @c6f0afaa
# `projects/fal/tests/e2e/test_apps.py`) and the runtime's RequestCancelledException("Request cancelled by
# the client."). UNVERIFIED: what the status says after the cancel, so both a plain COMPLETED and one
# carrying an error are run.


@pytest.mark.parametrize(
    "completed",
    [
        {"status": "COMPLETED", "logs": []},
        {
            "status": "COMPLETED",
            "logs": [],
            "error": "Request cancelled by the client.",
            "error_type": "client_cancelled",
        },
    ],
)
def test_cancelled_job_result_499_is_generation_canceled(completed: dict[str, Any]) -> None:
    routes = app_routes(
        "fal-ai/flux",
        "fal-ai/flux/dev",
        status=[(202, {"status": "IN_PROGRESS", "logs": []}), (200, completed)],
        result=[(499, {"detail": "Request cancelled by the client."})],
    )
    _, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None
    assert (err.code, err.exit_code, err.http_status, err.request_id) == ("generation.canceled", 1, 499, RID)
    assert err.message == "fal cancelled the job (HTTP 499): Request cancelled by the client."


# -- infra error types: provider-side, retry later ------------------------------------------------------
# fal-api.md §2.2 row 5xx/504 and §1.7 (X-Fal-Request-Timeout-Type: user), from fal's docs
# https://fal.ai/docs/documentation/model-apis/request-errors ("Request errors return a flat object with
# detail … and error_type"; the same value in X-Fal-Error-Type) and common-parameters.

INFRA = [
    ("request_timeout", 504, "Request timed out"),
    ("startup_timeout", 504, "Runner startup timed out"),
    ("runner_scheduling_failure", 503, "Runner scheduling failed"),
    ("runner_connection_timeout", 503, "Runner connection timed out"),
    ("runner_disconnected", 503, "Runner disconnected"),
    # the rest of the docs' table, known from third-party copies of it
    ("runner_connection_refused", 503, "Runner connection refused"),
    ("runner_connection_error", 503, "Runner connection error"),
    ("runner_incomplete_response", 502, "Incomplete response"),
    ("internal_error", 500, "Internal error"),
    ("runner_teleported", 503, "A type genctl has never seen"),  # an unknown future type
]


@pytest.mark.parametrize(("kind", "status", "detail"), INFRA)
@pytest.mark.parametrize("where", ["header", "body"])
def test_infra_error_on_the_result_is_provider_side(kind: str, status: int, detail: str, where: str) -> None:
    body: dict[str, str] = {"detail": detail}
    headers: dict[str, str] = {}
    if where == "header":
        headers["X-Fal-Error-Type"] = kind
    else:
        body["error_type"] = kind
    completed = {"status": "COMPLETED", "logs": [], "error": detail, "error_type": kind}
    routes = app_routes(
        "fal-ai/flux", "fal-ai/flux/dev", status=[(200, completed)], result=[(status, body, headers)]
    )
    server, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None
    assert (err.code, err.exit_code, err.details["error_type"]) == ("provider.unavailable", 7, kind)
    assert "check the input" not in err.fix.lower() and err.fix.startswith(
        "A fal-side failure, not your input: retry"
    )
    known = kind != "runner_teleported"
    assert ("does not know yet" in err.message) is not known
    # a retryable 502/503/504 result GET is retried (with backoff on the fake clock) first; a 500 is not
    attempts = 4 if status in (502, 503, 504) else 1
    assert server.paths().count(f"GET /fal-ai/flux/requests/{RID}") == attempts


@pytest.mark.parametrize(("kind", "status", "detail"), INFRA)
def test_infra_error_inside_a_completed_status(kind: str, status: int, detail: str) -> None:
    """COMPLETED with error/error_type and a result GET that adds nothing (200 {}): still provider-side."""
    completed = {"status": "COMPLETED", "logs": [], "error": detail, "error_type": kind}
    routes = app_routes("fal-ai/flux", "fal-ai/flux/dev", status=[(200, completed)], result=[(200, {})])
    _, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None
    assert (err.code, err.exit_code, err.request_id) == ("provider.unavailable", 7, RID)
    assert err.message.startswith(f"fal's infrastructure failed ({kind}") and detail in err.message
    assert "check the input" not in err.fix.lower()


def test_user_start_timeout_is_generation_timeout() -> None:
    """§1.7: X-Fal-Request-Timeout expired → 504 with X-Fal-Request-Timeout-Type: user (not retried)."""
    completed = {
        "status": "COMPLETED",
        "logs": [],
        "error": "Request timed out",
        "error_type": "request_timeout",
    }
    headers = {"X-Fal-Error-Type": "request_timeout", "X-Fal-Request-Timeout-Type": "user"}
    body = {"detail": "Request timed out", "error_type": "request_timeout"}
    routes = app_routes(
        "fal-ai/flux", "fal-ai/flux/dev", status=[(200, completed)], result=[(504, body, headers)]
    )
    server, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None
    assert (err.code, err.exit_code, err.http_status) == ("generation.timeout", 7, 504)
    assert err.fix == "Raise --timeout, or retry when the model's queue is shorter."
    assert server.paths().count(f"GET /fal-ai/flux/requests/{RID}") == 1


def test_infra_error_at_submit_is_not_retried_and_provider_side() -> None:
    body = {"detail": "Runner scheduling failed", "error_type": "runner_scheduling_failure"}
    routes = {("POST", "/fal-ai/flux/dev"): [(503, body, {"X-Fal-Error-Type": "runner_scheduling_failure"})]}
    server, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None and (err.code, err.details["error_type"]) == (
        "provider.unavailable",
        "runner_scheduling_failure",
    )
    assert server.paths() == ["POST /fal-ai/flux/dev"]  # a paid POST is never retried on an answer


# -- both cancel shapes ---------------------------------------------------------------------------------
# fal-api.md §1.1: `{"status": OK|CANCELLATION_REQUESTED|ALREADY_COMPLETED|NOT_FOUND}` from fal's docs
# https://fal.ai/docs/inference-api/queue/cancel; `200 {"success": boolean}` from fal's generated
# per-endpoint OpenAPI (shared/recordings/fal/seedream_openapi.json, checked below).


def test_the_recorded_openapi_declares_the_success_shape() -> None:
    spec = json.loads((recordings_dir() / "fal" / "seedream_openapi.json").read_text(encoding="utf-8"))
    (cancel_path,) = [p for p in spec["paths"] if p.endswith("/cancel")]
    answer = spec["paths"][cancel_path]["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["properties"] == {
        "success": {"type": "boolean", "description": "Whether the request was cancelled successfully."}
    }


@pytest.mark.parametrize(
    ("status", "body", "accepted"),
    [
        (202, {"status": "CANCELLATION_REQUESTED"}, True),
        (200, {"status": "OK"}, True),
        (200, {"status": "ALREADY_COMPLETED"}, False),
        (200, {"status": "NOT_FOUND"}, False),
        (200, {"success": True}, True),
        (200, {"success": False}, False),  # not cancelled: usually already completed
        (400, {"status": "ALREADY_COMPLETED"}, False),  # UNVERIFIED status code (§1.1): handled either way
        (404, {"status": "NOT_FOUND"}, False),
    ],
)
def test_cancel_accepts_both_shapes(status: int, body: dict[str, Any], accepted: bool) -> None:
    server = Exchanges({("PUT", f"/fal-ai/flux/requests/{RID}/cancel"): [(status, body)]})
    job = Job("fal", "fal-ai/flux/dev", RID, f"{Q}/fal-ai/flux/requests/{RID}/status")
    with make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(server)) as http:
        assert cancel(provider=fal, client=http, job=job, key=KEY) is accepted
    assert server.paths() == [f"PUT /fal-ai/flux/requests/{RID}/cancel"]
    assert cancel_accepted(body) is accepted or status >= 400


@pytest.mark.parametrize(
    ("answer", "note"),
    [
        ({"success": False}, "the remote job had already finished"),
        ({"success": True}, "the remote job was cancelled"),
    ],
)
def test_deadline_cancel_reports_which_shape_said_what(answer: dict[str, bool], note: str) -> None:
    routes = app_routes(
        "fal-ai/flux",
        "fal-ai/flux/dev",
        status=[(202, {"status": "IN_PROGRESS", "logs": []})],
        result=[(200, {})],
    )
    routes["PUT", f"/fal-ai/flux/requests/{RID}/cancel"] = [(200, answer)]
    _, _, err = run("fal-ai/flux/dev", routes, deadline=3.0)
    assert err is not None
    # Pending unless the cancel took: a job that had finished can still be fetched with `genctl result`.
    pending = note != "the remote job was cancelled"
    assert (err.code, err.details) == ("generation.timeout", {"cancel": note, "pending": pending})


# -- a "successful" result with nothing in it ------------------------------------------------------------
# fal-api.md §2.2 last row ("200 with an error body", a single third-party report) and §1.1 (the result
# GET returns the model's output); an empty media list or a proxy's HTML page is no output either.


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"detail": "Path /foo not found"}, "model.not_found", None),
        ({"images": []}, "generation.failed", f"fal's result for request {RID} holds no output."),
        ({"images": [], "seed": 42}, "generation.failed", f"fal's result for request {RID} holds no output."),
        ({"video": None}, "generation.failed", f"fal's result for request {RID} holds no output."),
        ({}, "generation.failed", f"fal's result for request {RID} holds no output."),
        ([], "generation.failed", f"fal's result for request {RID} is an empty list."),
        (
            "<html><title>Bad gateway</title></html>",
            "generation.failed",
            f"fal's result for request {RID} is not JSON (an HTML page?).",
        ),
        (
            {"detail": "Something odd"},
            "generation.failed",
            f"fal's result for request {RID} holds no output: Something odd",
        ),
    ],
)
def test_success_with_nothing_in_it_is_a_failure(body: Any, code: str, message: str | None) -> None:
    routes = app_routes("fal-ai/flux", "fal-ai/flux/foo", status=[COMPLETED_AT_ONCE], result=[(200, body)])
    _, _, err = run("fal-ai/flux/foo", routes)
    assert err is not None
    assert (err.code, err.request_id) == (code, RID)
    if message is not None:
        assert err.message == message
    else:  # the endpoint id comes from the result URL's app plus the path fal names
        assert err.details == {"endpoint_id": "fal-ai/flux/foo", "path": "/foo"}


def test_a_text_result_without_files_is_still_a_result() -> None:
    routes = app_routes(
        "fal-ai/any-llm", "fal-ai/any-llm", status=[COMPLETED_AT_ONCE], result=[(200, {"output": "a poem"})]
    )
    _, done, err = run("fal-ai/any-llm", routes)
    assert err is None
    assert done[1].outputs == (Output(url=None, value={"output": "a poem"}),)


def test_the_whole_happy_path_for_contrast() -> None:
    """§1.3/§1.4 shapes: IN_QUEUE with a position, IN_PROGRESS with logs, COMPLETED with metrics, result."""
    image = {
        "url": "https://v3.fal.media/files/rabbit/a.jpeg",
        "width": 1024,
        "height": 1024,
        "content_type": "image/jpeg",
    }
    routes = app_routes(
        "fal-ai/flux",
        "fal-ai/flux/dev",
        status=[
            (202, {"status": "IN_QUEUE", "queue_position": 0}),
            (
                202,
                {
                    "status": "IN_PROGRESS",
                    "logs": [{"message": "step 1", "level": "INFO", "source": "user", "timestamp": "t"}],
                },
            ),
            (200, {"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 1.23}}),
        ],
        result=[
            (
                200,
                {
                    "images": [image],
                    "timings": {"inference": 2.5},
                    "seed": 1,
                    "has_nsfw_concepts": [False],
                    "prompt": "a fox",
                },
            )
        ],
    )
    _, done, err = run("fal-ai/flux/dev", routes)
    assert err is None
    assert done[1].outputs == (Output(url=image["url"], content_type="image/jpeg"),)


def test_runner_server_error_is_the_model_failing_but_says_retry() -> None:
    """`runner_server_error` (500, "Runner internal error"): the app's code raised. The model ran and failed
    (generation.failed, exit 1), and nothing says the input was at fault, so the fix says retry."""
    completed = {
        "status": "COMPLETED",
        "logs": [],
        "error": "Internal Server Error",
        "error_type": "runner_server_error",
    }
    body = {"detail": "Internal Server Error", "error_type": "runner_server_error"}
    headers = {"X-Fal-Error-Type": "runner_server_error"}
    routes = app_routes(
        "fal-ai/flux", "fal-ai/flux/dev", status=[(200, completed)], result=[(500, body, headers)]
    )
    _, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None
    assert (err.code, err.exit_code, err.details["error_type"]) == (
        "generation.failed",
        1,
        "runner_server_error",
    )
    assert err.fix.startswith("Retry;") and "check the input" not in err.fix.lower()


@pytest.mark.parametrize("kind", ["client_cancelled", "client_disconnected"])
def test_client_cancel_types_are_generation_canceled(kind: str) -> None:
    completed = {"status": "COMPLETED", "logs": [], "error": "Request was cancelled", "error_type": kind}
    routes = app_routes(
        "fal-ai/flux",
        "fal-ai/flux/dev",
        status=[(200, completed)],
        result=[(499, {"detail": "x"}, {"X-Fal-Error-Type": kind})],
    )
    _, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None and (err.code, err.exit_code) == ("generation.canceled", 1)
    job = Job("fal", "fal-ai/flux/dev", RID, "s")
    assert (
        fal.error_from_status(job, fal.parse_status(httpx.Response(200, json=completed))).code
        == "generation.canceled"
    )


def test_bad_request_type_is_the_input() -> None:
    body = {"detail": "Malformed request", "error_type": "bad_request"}
    routes = {("POST", "/fal-ai/flux/dev"): [(400, body, {"X-Fal-Error-Type": "bad_request"})]}
    _, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None and (err.code, err.exit_code) == ("payload.invalid", 5)


def test_logs_typed_as_an_object_in_the_endpoint_openapi_do_not_break_polling() -> None:
    """seedream_openapi.json types QueueStatus.logs as an object; the docs show a list (§1.4)."""
    spec = json.loads((recordings_dir() / "fal" / "seedream_openapi.json").read_text(encoding="utf-8"))
    assert spec["components"]["schemas"]["QueueStatus"]["properties"]["logs"]["type"] == "object"
    status = fal.parse_status(httpx.Response(202, json={"status": "IN_PROGRESS", "logs": {"step": "1/2"}}))
    assert (status.state, status.logs) == ("running", ())


def test_runner_server_error_outside_a_finished_job_is_provider_side() -> None:
    """The same type on a submit (no job ran): the platform failing, not the model."""
    body = {"detail": "Internal Server Error", "error_type": "runner_server_error"}
    routes = {("POST", "/fal-ai/flux/dev"): [(500, body, {"X-Fal-Error-Type": "runner_server_error"})]}
    _, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None and (err.code, err.exit_code) == ("provider.unavailable", 7)


def test_a_429_with_an_error_type_stays_rate_limited() -> None:
    """§2.2 429 rows: no documented error_type; should one come, the rate limit and its hint still win."""
    body = {"detail": "Too many requests", "error_type": "rate_limited"}
    routes = {("POST", "/fal-ai/flux/dev"): [(429, body, {"Retry-After": "3"})]}
    _, _, err = run("fal-ai/flux/dev", routes)
    assert err is not None and (err.code, err.details["retry_after"]) == ("rate.limited", 3.0)


def test_a_text_result_that_happens_to_have_a_detail_field_is_kept() -> None:
    body = {"output": "a poem", "detail": "long"}
    routes = app_routes("fal-ai/any-llm", "fal-ai/any-llm", status=[COMPLETED_AT_ONCE], result=[(200, body)])
    _, done, err = run("fal-ai/any-llm", routes)
    assert err is None and done[1].outputs == (Output(url=None, value=body),)


def test_the_wrong_subpath_gets_the_did_you_mean_end_to_end() -> None:
    """generation.generate on the same sequence: the runner's model.not_found reaches the catalogue's
    did-you-mean (catalog.preflight.explain) with its request id and endpoint id kept."""
    base = f"/fal-ai/flux/requests/{RID}"
    fal_models = {
        "models": [
            {
                "endpoint_id": "fal-ai/flux/dev",
                "metadata": {"display_name": "FLUX.1 [dev]", "status": "active"},
            }
        ],
        "has_more": False,
        "next_cursor": None,
    }
    routes: dict[tuple[str, str], list[Answer]] = {
        **app_routes(
            "fal-ai/flux",
            "fal-ai/flux/deev",
            status=[COMPLETED_AT_ONCE],
            result=[(404, {"detail": "Path /deev not found"}, {"x-fal-billable-units": "0"})],
        ),
        # generate follows fal jobs on the status stream (§1.1): the same COMPLETED status, as one event
        ("GET", f"{base}/status/stream"): [
            lambda request: httpx.Response(
                200,
                headers={"content-type": "text/event-stream", "x-fal-request-id": RID},
                content=f"data: {json.dumps(COMPLETED_AT_ONCE[1])}\n\n".encode(),
            )
        ],
        ("GET", "/v1/models"): [(200, fal_models)],  # api.fal.ai: the search the did-you-mean runs
        ("GET", "/v1/search"): [(200, {"query": "flux deev", "models": [], "collections": [], "pages": []})],
    }
    server = Exchanges(routes)
    settings = load_settings(env={**os.environ, "FAL_KEY": SECRET})
    request = GenerationRequest(
        prompt="a fox",
        model="fal-ai/flux/deev",
        validate=False,
        download=False,
        history=False,
        fallback=False,
    )
    with httpx.Client(transport=httpx.MockTransport(server)) as http, pytest.raises(GenctlError) as caught:
        generate(settings, request, client=http)
    err = caught.value
    assert (err.code, err.exit_code, err.request_id) == ("model.not_found", 4, RID)
    assert err.message == (
        "fal has no endpoint 'fal-ai/flux/deev': the app exists but has no path /deev "
        "(Path /deev not found). Nothing was charged."
    )
    assert err.fix == "Did you mean fal-ai/flux/dev? Search: genctl models flux deev"
    assert err.details == {
        "endpoint_id": "fal-ai/flux/deev",
        "path": "/deev",
        "suggestions": [{"provider": "fal", "id": "fal-ai/flux/dev"}],
    }
    # the price is looked up on a thread of its own while the job runs: its GET may come at any point
    job = [path for path in server.paths() if path != "GET /v1/models/pricing"]
    assert job[:3] == ["POST /fal-ai/flux/deev", f"GET {base}/status/stream", f"GET {base}"]
