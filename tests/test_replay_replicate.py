"""Every recorded Replicate exchange (shared/recordings/replicate-python-cassettes, real api.replicate.com
answers from 2023–2024) through genctl's own parsers, and the whole recorded jobs through the real runner.

Parsers: `ReplicateProvider` (predictions, uploads, errors), `replicate_catalog` (models, versions, model
lists, collections), `download.save_output` (an output file). A few exchanges have no genctl parser because
genctl never makes that call; they are listed in UNPARSED with the reason, and the census test proves that
every other exchange was replayed.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import httpx
import pytest
from replay import Exchange, Replay, cassette_names, load

from genctl.download import save_output
from genctl.errors import GenctlError
from genctl.http import RetryPolicy, make_client
from genctl.providers import replicate_catalog as catalog
from genctl.providers.base import Job, Output
from genctl.providers.registry import detect as detect_provider
from genctl.providers.replicate import ReplicateProvider, outputs_from
from genctl.runner import Event, cancel, fetch_result, run_generation, submit_only
from genctl.values import Key
from tests.support import FakeTime

TOKEN = "r8_Abcdefghijklmnopqrstuvwxyz0123456789Z"
KEY = Key(provider="replicate", label="env:REPLICATE_API_TOKEN", source="env", _secret=TOKEN)
API = "https://api.replicate.com/v1"
SDXL = "stability-ai/sdxl:39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"
CORGI = {"prompt": "a studio photo of a rainbow colored corgi", "width": 512, "height": 512, "seed": 42069}
rep = ReplicateProvider(api_url=API)

# (cassette, index) -> why genctl has no parser for it. Everything else must replay.
UNPARSED: dict[tuple[str, int], str] = {
    ("file-operations.yaml", 1): "GET /files/{id}: genctl only uploads (POST /files) and passes urls.get on",
    ("file-operations.yaml", 2): "GET /files: genctl never lists uploaded files",
    ("file-operations.yaml", 3): "DELETE /files/{id} (204): genctl never deletes uploads (they expire)",
    ("file-operations.yaml", 4): "GET /files: genctl never lists uploaded files",
    ("hardware-list.yaml", 0): "GET /hardware: genctl checks a token with GET /account instead",
}
# models-list__pagination.yaml is an empty file (0 bytes, no interactions): nothing to replay.
EMPTY_CASSETTES = {"models-list__pagination.yaml"}

_STATES = {"starting": "queued", "processing": "running", "succeeded": "succeeded", "canceled": "canceled"}


def client(handler: Replay) -> httpx.Client:
    return make_client(timeout=5, connect_timeout=2, transport=httpx.MockTransport(handler))


# -- every exchange through a parser -----------------------------------------------------------------------


def summary(exchange: Exchange, tmp: Path) -> str:
    """What genctl's parser made of one recorded exchange, in one comparable line."""
    # The recorder filtered Authorization out; genctl always sends its token, so bind to a request with one.
    sent = httpx.Request(exchange.method, exchange.url, headers={"Authorization": f"Bearer {TOKEN}"})
    response = exchange.response(sent)
    path, method = exchange.path, exchange.method
    parts = path.removeprefix("/v1/").split("/")
    if not response.is_success:
        err = rep.error_from_response(response, model=SDXL, key=KEY)
        return f"error {err.http_status} {err.code}"
    if exchange.url.startswith("https://replicate.delivery/"):
        with client(Replay([exchange])) as http:
            (output,) = outputs_from(exchange.url)
            saved = save_output(
                http,
                output,
                dest_dir=tmp,
                model="o/n",
                request_id="r",
                index=0,
                headers=rep.download_headers(exchange.url, key=KEY),
            )
        assert saved.path is not None and saved.path.read_bytes() == exchange.body
        return f"file {saved.content_type} {saved.bytes} bytes"
    if parts[-1] == "predictions" and method == "POST":
        job, status = rep.parse_submit(response, model="o/n", key=KEY)
        body = exchange.json()
        assert (job.request_id, job.status_url, job.cancel_url) == (
            body["id"],
            body["urls"]["get"],
            body["urls"]["cancel"],
        )
        return f"submit {job.request_id} {status.state} outputs={status.outputs}"
    if parts[0] == "predictions":
        status = rep.parse_status(response)
        assert status.state == _STATES[exchange.json()["status"]]
        files = len(rep.parse_result(response).outputs) if status.state == "succeeded" else None
        return f"status {exchange.json()['id']} {status.state} logs={len(status.logs)} files={files}"
    if parts[0] == "files" and method == "POST":
        return f"upload {rep.parse_upload(response)}"
    if parts[0] == "models" and len(parts) == 5 and parts[3] == "versions":
        version = catalog.parse_version(response)
        schema = catalog.input_schema(version["openapi_schema"])
        assert schema is not None
        kind = catalog.output_kind(version["openapi_schema"])
        return f"version {version['id'][:8]} inputs={len(schema[0]['properties'])} output={kind}"
    if parts[0] == "models" and len(parts) == 3:
        info = catalog.model_info(catalog.model_object(response))
        return f"model {info.id} latest={(info.latest_version or '')[:8]} kind={info.kind}"
    if parts == ["models"]:  # GET /models, and the old search: QUERY /models (the same page shape)
        infos, next_url = catalog.parse_models_page(response)
        return f"models {len(infos)} next={next_url is not None}"
    if parts == ["collections"]:
        results, next_url = catalog.parse_page(response, "collections")
        return f"collections {len(results)} next={next_url is not None}"
    if parts[0] == "collections" and len(parts) == 2:
        slug, infos = catalog.parse_collection(response)
        return f"collection {slug} {len(infos)} kinds={sorted({str(i.kind) for i in infos})}"
    raise AssertionError(f"no parser for {method} {exchange.url}")


def _submit(pid: str, state: str) -> str:
    return f"submit {pid} {state} outputs=None"


EXPECTED: dict[str, list[str]] = {
    "collections-get.yaml": ["collection text-to-image 38 kinds=['image']"],
    "collections-list.yaml": ["collections 19 next=False"],
    "file-operations.yaml": [
        "upload https://api.replicate.com/v1/files/NGZiNmY2YzQtMThhZi00ZjcyLWFhZjktODg4NTY0NWNlMDEy"
    ],
    "file-prediction.yaml": ["file image/png 1725478 bytes"],
    "models-get.yaml": [
        "model stability-ai/sdxl latest=39ed52f2 kind=None",
        "model mattt/empty latest= kind=None",
    ],
    "models-list.yaml": ["models 25 next=True"],
    "models-predictions-create.yaml": [_submit("heat2o3bzn3ahtr6bjfftvbaci", "queued")],
    "models-search.yaml": ["models 25 next=False"],
    "predictions-cancel.yaml": [
        _submit("heat2o3bzn3ahtr6bjfftvbaci", "queued"),
        "model stability-ai/sdxl latest=39ed52f2 kind=None",
        "version 39ed52f2 inputs=19 output=media",
        _submit("hdwst0bb05rgp0cf0p29mzk2am", "queued"),
        "status hdwst0bb05rgp0cf0p29mzk2am canceled logs=0 files=None",
    ],
    "predictions-create.yaml": [
        "model stability-ai/sdxl latest=39ed52f2 kind=None",
        _submit("vgcm4plb7tgzlyznry5d5jkgvu", "queued"),
        "version 39ed52f2 inputs=17 output=media",
        _submit("vme6tftbgoggoxnjiwkzr6zrpa", "queued"),
    ],
    "predictions-get.yaml": [
        "status vgcm4plb7tgzlyznry5d5jkgvu succeeded logs=30 files=1",
        "status vgcm4plb7tgzlyznry5d5jkgvu succeeded logs=30 files=1",
    ],
    "predictions-stream.yaml": [
        "model meta/llama-2-70b-chat latest=02e509c7 kind=text",
        "version 02e509c7 inputs=11 output=text",
        _submit("4awn473bsrztjzlx2b6ufoxkkm", "queued"),
    ],
    "run.yaml": [
        _submit("azaq55dbukgxg6kubr4k6g3pby", "queued"),
        "version 39ed52f2 inputs=17 output=media",
        "status azaq55dbukgxg6kubr4k6g3pby queued logs=0 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=0 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=4 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=9 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=14 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=19 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=24 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=29 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=29 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby running logs=29 files=None",
        "status azaq55dbukgxg6kubr4k6g3pby succeeded logs=30 files=1",
    ],
    "run__invalid-token.yaml": ["error 401 key.invalid"],
}
# "processing" with the output already there (Prefer: wait): not terminal, so no outputs yet (§1.2).
for _name, _ids in {
    "test_models_predictions_create_blocking[False-10].yaml": ["pw050dtb51rj40cjb2vrcw97b8"],
    "test_models_predictions_create_blocking[False-True].yaml": ["7vr9my1z3nrj40cjb2vv9pshw0"],
    "test_models_predictions_create_blocking[True-10].yaml": ["kr2d2jhqbsrj60cjb2vtmekgh4"],
    "test_models_predictions_create_blocking[True-True].yaml": ["jp9nrd1g2hrj20cjb2vrb55mkr"],
}.items():
    EXPECTED[_name] = [_submit(pid, "running") for pid in _ids]
for _name, _ids in {
    "test_predictions_create_blocking[False-10].yaml": [
        "0fqzzq8p2srgm0cjb2zaj681jr",
        "37mkg0qrxnrgj0cjb2zsyaxzjm",
    ],
    "test_predictions_create_blocking[False-True].yaml": [
        "avyjww80xnrgj0cjb2z8taq7nw",
        "y4pvp6q7ehrgj0cjb2zrwx9zq8",
    ],
    "test_predictions_create_blocking[True-10].yaml": [
        "wm41d8ffq9rgj0cjb2ysrvzve0",
        "crprtf6ny1rgj0cjb2zr41e0j8",
    ],
    "test_predictions_create_blocking[True-True].yaml": [
        "14m2dc50wnrgp0cjb2ybv46db4",
        "g44k63dzp1rgg0cjb2zvzd579r",
    ],
}.items():
    EXPECTED[_name] = [
        "model stability-ai/sdxl latest=7762fd07 kind=None",
        "version 39ed52f2 inputs=19 output=media",
        _submit(_ids[0], "running"),
        "model stability-ai/sdxl latest=7762fd07 kind=None",
        "version 7762fd07 inputs=19 output=media",
        _submit(_ids[1], "running"),
    ]
for _flag, _pid in (("False", "hdwst0bb05rgp0cf0p29mzk2am"), ("True", "vrsafsk7mnrgj0cf0p2ax766s4")):
    EXPECTED[f"test_predictions_cancel[{_flag}].yaml"] = [
        _submit("heat2o3bzn3ahtr6bjfftvbaci", "queued"),
        "model stability-ai/sdxl latest=39ed52f2 kind=None",
        "version 39ed52f2 inputs=19 output=media",
        _submit(_pid, "queued"),
        f"status {_pid} canceled logs=0 files=None",
    ]
EXPECTED["test_predictions_create_by_model[False].yaml"] = [_submit("cjt2hahk61rgp0cf0p2arcdp9r", "queued")]
EXPECTED["test_predictions_create_by_model[True].yaml"] = [
    _submit("vpx8dks2pnrgg0cf0p2b7p13hc", "queued"),
    _submit("vcp9g11jexrgp0cf0p2bweyqyg", "queued"),
]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_exchange_parses_as_recorded(name: str, tmp_path: Path) -> None:
    got = [
        summary(exchange, tmp_path)
        for index, exchange in enumerate(load(name))
        if (name, index) not in UNPARSED
    ]
    assert got == EXPECTED[name]


def test_run_concurrently_every_poll_parses() -> None:
    """137 exchanges: 4 creates, 4 version GETs, 129 polls of 4 jobs that all end `succeeded`."""
    states: dict[str, list[str]] = collections.defaultdict(list)
    versions = []
    for exchange in load("run__concurrently.yaml"):
        response = exchange.response()
        if exchange.method == "POST":
            job, status = rep.parse_submit(response, model=SDXL, key=KEY)
            states[job.request_id].append(status.state)
        elif "/versions/" in exchange.path:
            versions.append(catalog.parse_version(response)["id"][:8])
        else:
            status = rep.parse_status(response)
            states[exchange.path.rsplit("/", 1)[-1]].append(status.state)
            if status.terminal:
                (output,) = rep.parse_result(response).outputs
                assert output.url is not None and output.url.endswith("/out-0.png")
    counts = {pid: dict(collections.Counter(seq)) for pid, seq in states.items()}
    assert counts == {
        "bf2j533bnqflk24dcgfzsj4b7y": {"queued": 11, "running": 22, "succeeded": 1},
        "qixbyytbrnkrzlwb5ggxi6xnva": {"queued": 8, "running": 20, "succeeded": 1},
        "d2sc6elbgccjryvjegi2pchpeu": {"queued": 12, "running": 21, "succeeded": 1},
        "mkc4phdb4m4f4y7itqmcok5qcu": {"queued": 14, "running": 21, "succeeded": 1},
    }
    assert all(seq[-1] == "succeeded" and seq.count("succeeded") == 1 for seq in states.values())
    assert versions == ["39ed52f2"] * 4


def test_census_every_recorded_exchange_is_replayed() -> None:
    """Each cassette is either replayed above or named with the reason it cannot be."""
    names = cassette_names()
    assert len(names) == 29
    unparsed_only = {name for name, _ in UNPARSED if name not in EXPECTED}
    covered = set(EXPECTED) | {"run__concurrently.yaml"} | EMPTY_CASSETTES | unparsed_only
    assert set(names) == covered
    total = sum(len(load(name)) for name in names)
    replayed = total - len(UNPARSED)
    assert (total, replayed) == (220, 215)
    assert all(load(name) == [] for name in EMPTY_CASSETTES)
    assert sum(len(v) for v in EXPECTED.values()) + 137 == replayed


# -- facts the recordings show -----------------------------------------------------------------------------


def test_sync_processing_with_output_is_not_done() -> None:
    """`Prefer: wait=10` answered 201 `processing` with the whole output already there (replicate-api.md
    Turn-2 additions): not terminal, no outputs taken yet."""
    (exchange,) = load("test_models_predictions_create_blocking[True-10].yaml")
    assert dict(exchange.headers)["Preference-Applied"] == "wait=10"
    _, status = rep.parse_submit(exchange.response(), model="meta/meta-llama-3-8b-instruct", key=KEY)
    assert (status.state, status.terminal, status.outputs) == ("running", False, None)
    assert exchange.json()["output"][:3] == ["\n\n", "Here is", " a ha"]


def test_absent_timestamps_and_dp_versions_parse() -> None:
    """A fresh prediction has no started_at/completed_at keys at all, and an official model's version is
    `dp-…` (replicate-api.md Turn-2 additions)."""
    (exchange,) = load("test_predictions_create_by_model[False].yaml")
    body = exchange.json()
    assert "started_at" not in body and "completed_at" not in body
    assert body["version"] == "dp-a557b7387b4940df25b23f779dc534c4"
    job, status = rep.parse_submit(exchange.response(), model="meta/meta-llama-3-8b-instruct", key=KEY)
    assert (job.request_id, status.state) == ("cjt2hahk61rgp0cf0p2arcdp9r", "queued")
    request = rep.submit_request(
        model="meta/meta-llama-3-8b-instruct:dp-a557b7387b4940df25b23f779dc534c4", params={}, key=KEY
    )
    assert request.json == {"version": "dp-a557b7387b4940df25b23f779dc534c4", "input": {}}
    assert detect_provider("meta/meta-llama-3-8b-instruct:dp-a557b7387b4940df25b23f779dc534c4") == "replicate"


def test_cancel_answer_has_null_logs() -> None:
    exchange = load("predictions-cancel.yaml")[4]
    assert exchange.json()["logs"] is None
    status = rep.parse_status(exchange.response())
    assert (status.state, status.logs, status.outputs, status.metrics["predict_time"]) == (
        "canceled",
        (),
        None,
        0.128148,
    )
    assert rep.error_from_status(_job("hdwst0bb05rgp0cf0p29mzk2am"), status).code == "generation.canceled"


def _job(pid: str) -> Job:
    return Job("replicate", SDXL, pid, f"{API}/predictions/{pid}")


# -- whole recorded jobs through the runner ----------------------------------------------------------------


def test_run_yaml_one_create_and_eleven_polls() -> None:
    exchanges = load("run.yaml")
    server = Replay(exchanges)
    t = FakeTime()
    events: list[Event] = []
    with client(server) as http:
        job, result = run_generation(
            provider=rep,
            client=http,
            model=SDXL,
            params=CORGI,
            key=KEY,
            on_event=events.append,
            clock=t.clock,
            sleep=t.sleep,
        )
    # genctl does not GET the version (the SDK did, to detect iterator output): it is the one left.
    assert server.left() == [
        (
            "GET",
            "api.replicate.com/v1/models/stability-ai/sdxl/versions/"
            "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b",
        )
    ]
    polls = [r for r in server.requests if r.method == "GET"]
    assert len(polls) == 11
    assert all(
        str(r.url) == "https://api.replicate.com/v1/predictions/azaq55dbukgxg6kubr4k6g3pby" for r in polls
    )
    assert server.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert job.request_id == "azaq55dbukgxg6kubr4k6g3pby"
    assert result.outputs == (
        Output(
            url="https://replicate.delivery/pbxt/gDoc64M9pRaQNdZb0evCRgm57WZJ5BKi0T5kzV6qm2tGmd8IA/out-0.png",
            content_type="image/png",
            file_name="out-0.png",
        ),
    )
    final_logs = exchanges[12].json()["logs"].splitlines()
    logs = [e.message for e in events if e.kind == "log"]
    assert logs == final_logs and len(logs) == 30  # each line once, in order, none lost between polls
    assert logs[0] == "Using seed: 42069" and logs[-1].startswith("100%|██████████| 50/50")
    kinds = [e.kind for e in events if e.kind != "log"]
    assert kinds == ["submitting", "submitted", "queued", "running", "completed"]
    assert len(t.sleeps) == 10 and t.now == pytest.approx(sum(t.sleeps))


def test_run_concurrently_four_jobs_each_to_the_end() -> None:
    exchanges = load("run__concurrently.yaml")
    server = Replay(exchanges)
    prompts = [e.json()["input"]["prompt"] for e in exchanges if e.method == "POST"]
    found = []
    with client(server) as http:
        for prompt in prompts:
            t = FakeTime()
            job, result = run_generation(
                provider=rep,
                client=http,
                model=SDXL,
                params={"prompt": prompt},
                key=KEY,
                clock=t.clock,
                sleep=t.sleep,
            )
            (output,) = result.outputs
            found.append((job.request_id, output.file_name))
    assert found == [
        ("bf2j533bnqflk24dcgfzsj4b7y", "out-0.png"),
        ("qixbyytbrnkrzlwb5ggxi6xnva", "out-0.png"),
        ("d2sc6elbgccjryvjegi2pchpeu", "out-0.png"),
        ("mkc4phdb4m4f4y7itqmcok5qcu", "out-0.png"),
    ]
    assert [m for m, _ in server.left()] == ["GET"] * 4 and all("/versions/" in u for _, u in server.left())
    assert len(server.served) == 137 - 4


BLOCKING = sorted(name for name in EXPECTED if "_blocking[" in name)


@pytest.mark.parametrize("name", BLOCKING)
def test_blocking_processing_answer_keeps_polling(name: str) -> None:
    """Each recorded sync answer is `processing` with output; the runner must poll `urls.get` until a
    terminal status. The recording ends there, so the poll answers are SYNTHETIC: the recorded body, once
    more `processing`, then with `status: succeeded` (nothing else changed)."""
    creates = [e for e in load(name) if e.method == "POST"]
    polls: list[httpx.Request] = []
    bodies = [e.json() for e in creates]

    def synthetic(request: httpx.Request) -> httpx.Response:
        polls.append(request)
        (body,) = [b for b in bodies if str(request.url) == b["urls"]["get"]]
        status = "processing" if sum(1 for r in polls if r.url == request.url) == 1 else "succeeded"
        return httpx.Response(200, json={**body, "status": status}, request=request)

    server = Replay(creates, extra=synthetic)
    provider = ReplicateProvider(api_url=API, wait=10)  # the recordings sent `wait=10` or a bare `wait`
    with client(server) as http:
        for exchange, body in zip(creates, bodies, strict=True):
            sent = json.loads(exchange.request_body)
            parts = exchange.path.split("/")  # /v1/models/{owner}/{name}/predictions or /v1/predictions
            model = (
                f"{parts[3]}/{parts[4]}" if parts[2] == "models" else f"stability-ai/sdxl:{sent['version']}"
            )
            t = FakeTime()
            job, result = run_generation(
                provider=provider,
                client=http,
                model=model,
                params=sent["input"],
                key=KEY,
                clock=t.clock,
                sleep=t.sleep,
            )
            assert job.request_id == body["id"]
            if parts[2] == "models":  # an LLM: one plain value, the list of streamed chunks
                assert result.outputs == (Output(url=None, value=body["output"]),)
            else:
                (image,) = result.outputs
                assert (image.url, image.content_type) == (body["output"][0], "image/png")
    assert server.left() == []
    assert all(r.headers["Prefer"] == "wait=10" for r in server.requests if r.method == "POST")
    assert len(polls) == 2 * len(creates)  # each create: one more `processing`, then the terminal poll


@pytest.mark.parametrize(
    "name",
    ["predictions-cancel.yaml", "test_predictions_cancel[False].yaml", "test_predictions_cancel[True].yaml"],
)
def test_recorded_cancel_through_the_runner(name: str) -> None:
    exchanges = load(name)
    server = Replay(exchanges)
    with client(server) as http:
        llama = submit_only(provider=rep, client=http, model="meta/llama-2-70b-chat", params={}, key=KEY)
        sdxl = submit_only(provider=rep, client=http, model=SDXL, params=CORGI, key=KEY)
        accepted = cancel(provider=rep, client=http, job=sdxl, key=KEY, policy=RetryPolicy(max_attempts=1))
    assert llama.request_id == "heat2o3bzn3ahtr6bjfftvbaci"
    assert str(server.requests[0].url) == f"{API}/models/meta/llama-2-70b-chat/predictions"
    assert accepted is True
    assert str(server.requests[-1].url) == f"{API}/predictions/{sdxl.request_id}/cancel"
    assert [m for m, _ in server.left()] == ["GET", "GET"]  # the SDK's model and version look-ups


def test_recorded_cancel_at_the_deadline() -> None:
    """The runner's deadline cancel, answered by the recorded cancel: a timeout saying it was cancelled."""
    exchanges = load("test_predictions_cancel[True].yaml")
    server = Replay([exchanges[3], exchanges[4]])
    t = FakeTime()

    def on_event(event: Event) -> None:
        if event.kind == "submitted":
            t.now += 60.0  # the deadline passes before the first poll

    with client(server) as http, pytest.raises(GenctlError) as caught:
        run_generation(
            provider=rep,
            client=http,
            model=SDXL,
            params=CORGI,
            key=KEY,
            deadline=30.0,
            on_event=on_event,
            clock=t.clock,
            sleep=t.sleep,
        )
    err = caught.value
    assert (err.code, err.exit_code, err.request_id) == (
        "generation.timeout",
        7,
        "vrsafsk7mnrgj0cf0p2ax766s4",
    )
    assert err.details == {"cancel": "the remote job was cancelled", "pending": False}
    assert [r.method for r in server.requests] == ["POST", "POST"] and server.left() == []


def test_invalid_token_through_the_runner() -> None:
    (exchange,) = load("run__invalid-token.yaml")
    server = Replay([exchange])
    with client(server) as http, pytest.raises(GenctlError) as caught:
        run_generation(provider=rep, client=http, model=SDXL, params=CORGI, key=KEY)
    err = caught.value
    assert (err.code, err.exit_code, err.http_status) == ("key.invalid", 3, 401)
    assert err.message == (
        "Replicate does not accept token env:REPLICATE_API_TOKEN (r8_A…789Z): "
        "You did not pass a valid authentication token"
    )
    assert len(server.requests) == 1  # a 401 on a paid POST is not retried


# -- documented answers no cassette holds (replicate-api.md §2.3) ------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "wait"),
    [
        # Older docs (Django REST framework's throttle text), singular and plural.
        ({"detail": "Request was throttled. Expected available in 1 second."}, {}, 1.0),
        ({"detail": "Request was throttled. Expected available in 12 seconds."}, {}, 12.0),
        ({"detail": "Request was throttled. Your rate limit resets in ~30s."}, {}, 30.0),
        ({"detail": "…resets in ~5s.", "status": 429, "retry_after": 5}, {}, 5.0),
        ({"detail": "slow down"}, {"Retry-After": "7"}, 7.0),
        # Absurd hints are clamped to an hour; non-finite ones are no hint at all.
        ({"detail": "Request was throttled. Expected available in 99999 seconds."}, {}, 86400.0),
        ({"detail": "x", "retry_after": 10**400}, {}, 86400.0),
        ({"detail": "x", "retry_after": -5}, {}, 0.0),
        ({"detail": "x"}, {"Retry-After": "1e999"}, 86400.0),  # clamped to a day, never Infinity
        ({"detail": "x"}, {"Retry-After": "nan"}, None),
    ],
)
def test_429_retry_hints(body: dict[str, object], headers: dict[str, str], wait: float | None) -> None:
    request = httpx.Request("POST", f"{API}/predictions", headers={"Authorization": f"Bearer {TOKEN}"})
    err = rep.error_from_response(httpx.Response(429, json=body, headers=headers, request=request), key=KEY)
    assert (err.code, err.exit_code) == ("rate.limited", 6)
    assert err.details.get("retry_after") == wait
    if wait is not None:
        assert err.fix.endswith(f"Retry in {wait:g} s.")


@pytest.mark.parametrize("output", [None, [], "", {}, [None, ""]])
def test_success_with_empty_output_is_a_failure(output: object) -> None:
    """A `succeeded` prediction with nothing in it is not a result (generation.failed, request id kept)."""
    exchange = load("predictions-get.yaml")[1]
    body = {**exchange.json(), "output": output}
    response = httpx.Response(200, json=body, request=exchange.request())
    with pytest.raises(GenctlError) as caught:
        rep.parse_result(response)
    err = caught.value
    assert (err.code, err.exit_code, err.request_id) == ("generation.failed", 1, "vgcm4plb7tgzlyznry5d5jkgvu")
    assert err.message == (
        "Replicate reported prediction vgcm4plb7tgzlyznry5d5jkgvu succeeded, but its output is empty."
    )


def test_empty_output_through_the_runner_keeps_the_request_id() -> None:
    exchanges = load("run.yaml")
    final = exchanges[12]
    emptied = Exchange(
        **{**final.__dict__, "body": final.body.replace(final.json()["output"][0].encode(), b"")}
    )
    server = Replay([exchanges[0], *exchanges[2:12], emptied])
    t = FakeTime()
    with client(server) as http, pytest.raises(GenctlError) as caught:
        run_generation(
            provider=rep, client=http, model=SDXL, params=CORGI, key=KEY, clock=t.clock, sleep=t.sleep
        )
    assert (caught.value.code, caught.value.request_id) == ("generation.failed", "azaq55dbukgxg6kubr4k6g3pby")


def test_predictions_get_through_fetch_result() -> None:
    """`genctl result` on a finished prediction: one recorded GET gives the status and the outputs."""
    first, second = load("predictions-get.yaml")
    server = Replay([first])
    job = _job("vgcm4plb7tgzlyznry5d5jkgvu")
    with client(server) as http:
        status, result = fetch_result(provider=rep, client=http, job=job, key=KEY)
    assert (status.state, len(status.logs), status.metrics) == ("succeeded", 30, {"predict_time": 3.804328})
    assert result is not None and [o.file_name for o in result.outputs] == ["out-0.png"]
    assert server.left() == []
    # the second recording differs only in its last log line having no newline yet: terminal, so kept
    assert rep.parse_status(second.response()).logs[-1] == "100%|██████████| 50/50 [00:02<00:00, 17.09it/s]"
