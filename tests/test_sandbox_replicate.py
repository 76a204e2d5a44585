"""The sandbox's Replicate API, driven by the official replicate 1.0.7 SDK and by plain httpx."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import replicate
from replicate.client import Client
from replicate.exceptions import ModelError, ReplicateError
from replicate.helpers import FileOutput

from genctl.sandbox import Sandbox
from genctl.sandbox.catalog_replicate import SDXL_VERSION
from genctl.sandbox.keys import (
    REPLICATE_ACCOUNT,
    REPLICATE_TOKEN_INVALID,
    REPLICATE_TOKEN_NO_BILLING,
    REPLICATE_TOKEN_OK,
    REPLICATE_TOKEN_OK_2,
)

ClientFactory = Callable[..., Client]


@pytest.fixture
def make_client(sandbox: Sandbox) -> Iterator[ClientFactory]:
    made: list[Client] = []

    def make(token: str = REPLICATE_TOKEN_OK) -> Client:
        client = Client(api_token=token, base_url=f"{sandbox.url}/replicate")
        client.poll_interval = 0.001
        made.append(client)
        return client

    yield make
    for client in made:
        client._client.close()


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}
    with httpx.Client(base_url=f"{sandbox.url}/replicate/v1", headers=headers, timeout=10) as client:
        yield client


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- the SDK as an independent client -----------------------------------------------------------------------


def test_run_official_model_returns_downloadable_pngs(make_client: ClientFactory) -> None:
    client = make_client()
    urls = client.run("black-forest-labs/flux-schnell", input={"prompt": "a dog", "aspect_ratio": "16:9"})
    # SDK 1.0.7 wraps only https:/data: strings in FileOutput; the sandbox speaks plain http.
    assert isinstance(urls, list) and len(urls) == 1 and urls[0].endswith("/out-0.png")
    assert png_size(FileOutput(urls[0], client).read()) == (1344, 768)


def test_run_with_data_uri_outputs_gives_file_outputs(make_client: ClientFactory) -> None:
    client = make_client()
    outputs = client.run(
        "black-forest-labs/flux-dev", input={"prompt": "a cat [sandbox:data_uri]", "num_outputs": 2}
    )
    assert all(isinstance(o, FileOutput) for o in outputs)
    images = [o.read() for o in outputs]
    assert png_size(images[0]) == (1024, 1024) and images[0] != images[1]


def test_create_with_version_then_wait_and_progress(sandbox: Sandbox, make_client: ClientFactory) -> None:
    client = make_client()
    sandbox.configure(queue_polls=1, progress_polls=4)
    prediction = client.predictions.create(version=SDXL_VERSION, input={"prompt": "x", "scheduler": "DDIM"})
    statuses = [prediction.status]
    for _ in range(2):
        prediction.reload()
        statuses.append(prediction.status)
    assert statuses == ["starting", "starting", "processing"] and prediction.version == SDXL_VERSION
    assert prediction.progress is not None
    assert (prediction.progress.current, prediction.progress.total) == (1, 4)
    prediction.wait()
    assert prediction.status == "succeeded" and prediction.model == "stability-ai/sdxl"
    assert prediction.metrics is not None and "predict_time" in prediction.metrics
    assert prediction.urls is not None and prediction.urls["get"].startswith(sandbox.url)
    output: Any = prediction.output
    [url] = output
    assert png_size(FileOutput(url, client).read()) == (1024, 1024)


def test_run_community_model_by_version_and_single_url_output(make_client: ClientFactory) -> None:
    client = make_client()
    model = client.models.get("meta/musicgen")
    assert model.latest_version is not None
    url = client.run(f"meta/musicgen:{model.latest_version.id}", input={"prompt": "drums", "duration": 1})
    assert isinstance(url, str) and FileOutput(url, client).read()[:4] == b"RIFF"


def test_llm_output_is_a_list_of_tokens(make_client: ClientFactory) -> None:
    tokens = make_client().run("meta/meta-llama-3-8b-instruct", input={"prompt": "hi"})
    assert "".join(tokens) == "This is the sandbox speaking. You asked: hi"


def test_models_account_files_collections(make_client: ClientFactory, sandbox: Sandbox) -> None:
    client = make_client()
    official = client.models.get("black-forest-labs/flux-schnell")
    assert official.latest_version is not None
    schema = official.latest_version.openapi_schema["components"]["schemas"]
    assert schema["Input"]["required"] == ["prompt"]
    assert schema["Input"]["properties"]["aspect_ratio"]["allOf"] == [
        {"$ref": "#/components/schemas/aspect_ratio"}
    ]
    assert [p["x-order"] for p in schema["Input"]["properties"].values()] == list(range(10))
    sdxl = client.models.get("stability-ai/sdxl")
    assert sdxl.latest_version is not None and sdxl.latest_version.id == SDXL_VERSION
    assert schema["aspect_ratio"]["enum"][:2] == ["1:1", "16:9"]

    account = client.accounts.current()
    assert (account.type, account.username) == ("user", REPLICATE_ACCOUNT)

    data = b"\x89PNG\r\n\x1a\n\r\n--not-a-boundary\r\n"
    created = client.files.create(io.BytesIO(data), filename="in.png")
    assert created.size == len(data) and created.content_type == "image/png"
    assert created.checksums["sha256"] == hashlib.sha256(data).hexdigest()
    assert client.files.get(created.id).name == "in.png"
    assert created.urls["get"] == f"{sandbox.url}/replicate/v1/files/{created.id}"

    collection = client.collections.get("text-to-image")
    assert [m.id for m in collection.models or []][:2] == [
        "black-forest-labs/flux-schnell",
        "black-forest-labs/flux-dev",
    ]
    listed = [m.id for page in replicate.paginate(client.models.list) for m in page]
    assert len(listed) == len(set(listed)) == 15  # three pages of five, following absolute `next` URLs


@pytest.mark.parametrize(
    ("token", "call", "status", "title", "detail_start"),
    [
        (
            REPLICATE_TOKEN_INVALID,
            "account",
            401,
            "Unauthenticated",
            "You did not pass a valid authentication token",
        ),
        (REPLICATE_TOKEN_NO_BILLING, "run", 402, "Billing required", "You need to set up billing"),
        (REPLICATE_TOKEN_OK, "missing_model", 404, None, "The requested resource could not be found."),
        (REPLICATE_TOKEN_OK, "bad_version", 422, "Invalid version or not permitted", "The specified version"),
        (
            REPLICATE_TOKEN_OK,
            "community_by_name",
            422,
            "Invalid version or not permitted",
            "The specified version",
        ),
        (REPLICATE_TOKEN_OK, "bad_input", 422, "Input validation failed", "- input.num_inference_steps"),
    ],
)
def test_errors_surface_as_replicate_errors(
    make_client: ClientFactory, token: str, call: str, status: int, title: str | None, detail_start: str
) -> None:
    client = make_client(token)
    calls: dict[str, Callable[[], object]] = {
        "account": client.accounts.current,
        "run": lambda: client.run("black-forest-labs/flux-schnell", input={"prompt": "x"}),
        "missing_model": lambda: client.models.get("acme/nope"),
        "bad_version": lambda: client.predictions.create(version="0" * 64, input={}),
        "community_by_name": lambda: client.run("stability-ai/sdxl", input={"prompt": "x"}),
        "bad_input": lambda: client.run(
            "black-forest-labs/flux-schnell", input={"prompt": "x", "num_inference_steps": 9}
        ),
    }
    with pytest.raises(ReplicateError) as excinfo:
        calls[call]()
    assert (excinfo.value.status, excinfo.value.title) == (status, title)
    assert (excinfo.value.detail or "").startswith(detail_start)


def test_no_billing_token_can_still_read_the_account(make_client: ClientFactory) -> None:
    assert make_client(REPLICATE_TOKEN_NO_BILLING).accounts.current().username == "sandbox-nobilling"


def test_failed_prediction_raises_model_error(make_client: ClientFactory) -> None:
    with pytest.raises(ModelError) as excinfo:
        make_client().run("black-forest-labs/flux-schnell", input={"prompt": "x [sandbox:nsfw]"})
    assert "NSFW" in str(excinfo.value)


# --- raw HTTP: what the SDK hides ---------------------------------------------------------------------------


def test_invalid_fields_and_problem_json(http: httpx.Client) -> None:
    r = http.post(
        "/models/black-forest-labs/flux-schnell/predictions", json={"input": {"num_inference_steps": 9}}
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "title": "Input validation failed",
        "detail": (
            "- input: prompt is required\n- input.num_inference_steps: Must be less than or equal to 4\n"
        ),
        "status": 422,
        "invalid_fields": [
            {"type": "required", "field": "input", "description": "prompt is required"},
            {
                "type": "number_lte",
                "field": "input.num_inference_steps",
                "description": "Must be less than or equal to 4",
            },
        ],
    }
    enum = http.post("/predictions", json={"version": SDXL_VERSION, "input": {"scheduler": "nope"}}).json()
    assert enum["invalid_fields"][0]["type"] == "enum"
    extra = http.post(
        "/models/black-forest-labs/flux-schnell/predictions", json={"version": "x", "input": {}}
    ).json()
    assert extra["invalid_fields"][0] == {
        "type": "additional_property_not_allowed",
        "field": "",
        "description": "Additional property version is not allowed",
    }
    assert int(r.headers["ratelimit-remaining"]) > 0 and "ratelimit-reset" in r.headers
    unauth = httpx.get(f"{http.base_url}account")
    assert unauth.json() == {
        "title": "Unauthenticated",
        "detail": "You did not pass an authentication token",
        "status": 401,
    }


def test_prefer_wait_blocks_for_model_latency(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(model_latency=0.2)
    started = time.monotonic()
    r = http.post(
        "/models/black-forest-labs/flux-schnell/predictions",
        json={"input": {"prompt": "x"}},
        headers={"Prefer": "wait=5"},
    )
    assert time.monotonic() - started >= 0.2
    assert r.status_code == 201 and r.headers["preference-applied"] == "wait=5"
    body = r.json()
    assert body["status"] == "succeeded" and re.fullmatch(r"dp-[0-9a-f]{32}", body["version"])
    required = {"id", "model", "version", "input", "logs", "output", "error", "status", "data_removed"}
    assert required | {"created_at", "started_at", "completed_at", "metrics", "urls"} <= set(body)
    assert set(body["urls"]) == {"get", "cancel", "stream"}  # no `web`: no recording has one


def test_never_finishing_prediction_and_cancel(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(never_finish=True, max_block=0.05)
    r = http.post(
        "/models/black-forest-labs/flux-dev/predictions",
        json={"input": {"prompt": "x"}},
        headers={"Prefer": "wait"},
    )
    body = r.json()
    assert body["status"] == "processing" and body["output"] is None
    assert http.get(f"/predictions/{body['id']}").json()["status"] == "processing"
    canceled = http.post(f"/predictions/{body['id']}/cancel").json()
    assert canceled["status"] == "canceled" and canceled["completed_at"] is not None
    assert [(c.provider, c.request_id, c.phase) for c in sandbox.cancels] == [
        ("replicate", body["id"], "running")
    ]


def test_cancel_after_aborts_in_queue_and_cancels_when_running(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(cancel_after_min=0, queue_polls=100)
    queued = http.post(
        "/predictions", json={"version": SDXL_VERSION, "input": {}}, headers={"Cancel-After": "0.1s"}
    ).json()
    assert "deadline" in queued
    sandbox.configure(queue_polls=0, never_finish=True)
    running = http.post(
        "/predictions", json={"version": SDXL_VERSION, "input": {}}, headers={"Cancel-After": "0.1"}
    ).json()
    assert http.get(f"/predictions/{running['id']}").json()["status"] == "processing"
    time.sleep(0.15)
    assert http.get(f"/predictions/{queued['id']}").json()["status"] == "aborted"
    assert http.get(f"/predictions/{running['id']}").json()["status"] == "canceled"
    sandbox.configure(cancel_after_min=5)
    too_short = http.post(
        "/predictions", json={"version": SDXL_VERSION, "input": {}}, headers={"Cancel-After": "1s"}
    )
    assert too_short.status_code == 400


def test_terminal_states_failed_aborted_data_removed(http: httpx.Client) -> None:
    def final(prompt: str) -> dict[str, object]:
        created = http.post(
            "/models/black-forest-labs/flux-schnell/predictions", json={"input": {"prompt": prompt}}
        )
        result: dict[str, object] = http.get(f"/predictions/{created.json()['id']}").json()
        return result

    failed = final("x [sandbox:fail]")
    assert failed["status"] == "failed" and "CUDA out of memory" in str(failed["error"])
    assert final("x [sandbox:aborted]")["status"] == "aborted"
    removed = final("x [sandbox:data_removed]")
    assert (removed["status"], removed["output"], removed["data_removed"]) == ("succeeded", None, True)


def test_predictions_are_private_and_listed_newest_first(http: httpx.Client, sandbox: Sandbox) -> None:
    ids = [
        http.post("/predictions", json={"version": SDXL_VERSION, "input": {}}).json()["id"] for _ in range(3)
    ]
    listed = http.get("/predictions").json()
    assert [p["id"] for p in listed["results"]] == ids[::-1] and listed["next"] is None
    other = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK_2}"}
    assert http.get(f"/predictions/{ids[0]}", headers=other).status_code == 404


def test_search_without_auth_and_collections(sandbox: Sandbox) -> None:
    found = httpx.get(f"{sandbox.url}/replicate/v1/search", params={"query": "flux"}).json()
    assert found["query"] == "flux" and {"models", "collections", "pages"} <= set(found)
    assert {m["model"]["name"] for m in found["models"]} >= {"flux-schnell", "flux-dev"}
    assert "score" in found["models"][0]["metadata"]
    assert httpx.get(f"{sandbox.url}/replicate/v1/search").status_code == 400
    assert httpx.get(f"{sandbox.url}/replicate/").json() == {}
