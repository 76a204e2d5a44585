"""Every sandbox answer the official OpenAPI specs describe, validated against those specs with jsonschema.

Specs: fal's Platform API (`fal-platform-openapi.json`), Replicate's API (`replicate-openapi.json`) and fal's
generated per-endpoint queue spec (`recordings/fal/seedream_openapi.json`), read from the shared reference
folder (SANDBOX_SPECS_DIR overrides it; the module is skipped when the files are not there). Both main specs
are OpenAPI 3.1, whose schemas are JSON Schema 2020-12: each response is checked against
`#/paths/<path>/<method>/responses/<status>/content/<type>/schema`, `$ref`s resolved by a `referencing`
registry holding the whole spec. Formats `date-time` and `uri` are checked too.

Where a spec and a real recording disagree the recording wins; each such case is a named patch below:
- Replicate `urls.web` is required by the spec but absent from every recorded prediction (2023-2024
  cassettes), so the sandbox leaves it out.
- Replicate `logs` is typed string, but the recorded cancel answer has `"logs": null`
  (predictions-cancel.yaml).
Not a disagreement but a spec defect: Replicate's 3.1 document still uses the 3.0 keyword `nullable: true`,
which 2020-12 ignores; it is rewritten to `type: [T, "null"]`, which is what the spec means.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from genctl.sandbox import Sandbox
from genctl.sandbox.catalog_replicate import SDXL_VERSION
from genctl.sandbox.keys import FAL_KEY_ADMIN, FAL_KEY_OK, FAL_KEY_UNKNOWN, REPLICATE_TOKEN_OK

SPECS = Path(os.environ.get("SANDBOX_SPECS_DIR", "/work/shared/reference"))
SEEDREAM = SPECS.parent / "recordings" / "fal" / "seedream_openapi.json"
if not (SPECS / "replicate-openapi.json").is_file() or not (SPECS / "fal-platform-openapi.json").is_file():
    pytest.skip(f"the official OpenAPI specs are not in {SPECS}", allow_module_level=True)

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    if isinstance(value, str) and not (urlsplit(value).scheme and urlsplit(value).netloc):
        raise ValueError(f"not an absolute URI: {value!r}")
    return True


def _nullable(node: Any) -> None:
    """OpenAPI 3.0's `nullable: true` -> JSON Schema's `type: [T, "null"]` (in place)."""
    if isinstance(node, dict):
        if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for value in node.values():
            _nullable(value)
    elif isinstance(node, list):
        for value in node:
            _nullable(value)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Spec:
    def __init__(self, path: Path, uri: str, patch: Callable[[Any], None] | None = None) -> None:
        self.doc = json.loads(path.read_text())
        _nullable(self.doc)
        if patch is not None:
            patch(self.doc)
        self.uri = uri
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(uri, resource)

    def check(self, response: httpx.Response, path: str, method: str) -> None:
        """`response` is declared for (path, method, status, content type) and matches that schema."""
        code = str(response.status_code)
        declared = self.doc["paths"][path][method]["responses"]
        assert code in declared, (
            f"{method.upper()} {path}: status {code} is not declared ({sorted(declared)})"
        )
        content_type = response.headers["content-type"].split(";")[0].strip()
        content = declared[code].get("content") or {}
        assert content_type in content, (
            f"{method.upper()} {path} {code}: {content_type} not in {sorted(content)}"
        )
        pointer = f"/paths/{_escape(path)}/{method}/responses/{code}/content/{_escape(content_type)}/schema"
        validator = Draft202012Validator(
            {"$ref": f"{self.uri}#{pointer}"}, registry=self.registry, format_checker=FORMATS
        )
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(response.json())
        ]
        assert errors == [], f"{method.upper()} {path} {code}"


def _replicate_patch(doc: Any) -> None:
    prediction = doc["components"]["schemas"]["schemas_prediction_response"]["properties"]
    prediction["urls"]["required"].remove("web")  # recordings: no prediction carries urls.web
    prediction["logs"]["type"] = ["string", "null"]  # recordings: the cancel answer has "logs": null


REPLICATE = Spec(SPECS / "replicate-openapi.json", "urn:spec:replicate", _replicate_patch)
FAL_PLATFORM = Spec(SPECS / "fal-platform-openapi.json", "urn:spec:fal-platform")


@pytest.fixture
def rep(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}
    with httpx.Client(base_url=f"{sandbox.url}/replicate/v1", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def fal(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/fal", timeout=10) as client:
        yield client


# --- Replicate --------------------------------------------------------------------------------------------


def test_replicate_predictions_create_get_cancel_list(sandbox: Sandbox, rep: httpx.Client) -> None:
    check = REPLICATE.check
    created = rep.post("/predictions", json={"version": SDXL_VERSION, "input": {"prompt": "x"}})
    check(created, "/predictions", "post")
    official = rep.post("/models/black-forest-labs/flux-schnell/predictions", json={"input": {"prompt": "x"}})
    check(official, "/models/{model_owner}/{model_name}/predictions", "post")
    waited = rep.post(
        "/models/meta/meta-llama-3-8b-instruct/predictions",
        json={"input": {"prompt": "hi [sandbox:early_output]"}},
        headers={"Prefer": "wait=10"},
    )
    assert waited.json()["status"] == "processing"
    check(waited, "/models/{model_owner}/{model_name}/predictions", "post")
    check(rep.get(f"/predictions/{created.json()['id']}"), "/predictions/{prediction_id}", "get")
    failed = rep.post("/predictions", json={"version": SDXL_VERSION, "input": {"prompt": "[sandbox:fail]"}})
    check(rep.get(f"/predictions/{failed.json()['id']}"), "/predictions/{prediction_id}", "get")
    sandbox.configure(queue_polls=3)
    pending = rep.post("/predictions", json={"version": SDXL_VERSION, "input": {}})
    sandbox.configure(queue_polls=0)
    check(
        rep.post(f"/predictions/{pending.json()['id']}/cancel"), "/predictions/{prediction_id}/cancel", "post"
    )
    listed = rep.get("/predictions")
    assert len(listed.json()["results"]) == 5
    check(listed, "/predictions", "get")


def test_replicate_models_versions_search_collections(rep: httpx.Client, sandbox: Sandbox) -> None:
    check = REPLICATE.check
    check(rep.get("/models"), "/models", "get")
    check(rep.get("/models/stability-ai/sdxl"), "/models/{model_owner}/{model_name}", "get")
    check(rep.get("/models/black-forest-labs/flux-schnell"), "/models/{model_owner}/{model_name}", "get")
    check(rep.get("/models/stability-ai/sdxl/versions"), "/models/{model_owner}/{model_name}/versions", "get")
    check(
        rep.get(f"/models/stability-ai/sdxl/versions/{SDXL_VERSION}"),
        "/models/{model_owner}/{model_name}/versions/{version_id}",
        "get",
    )
    query = rep.request("QUERY", "/models", content=b"flux", headers={"Content-Type": "text/plain"})
    check(query, "/models", "query")
    search = httpx.get(f"{sandbox.url}/replicate/v1/search", params={"query": "flux"})
    check(search, "/search", "get")
    check(httpx.get(f"{sandbox.url}/replicate/v1/search"), "/search", "get")  # the declared 400
    check(rep.get("/collections"), "/collections", "get")
    check(rep.get("/collections/text-to-image"), "/collections/{collection_slug}", "get")


def test_replicate_files_account_hardware(rep: httpx.Client) -> None:
    check = REPLICATE.check
    upload = rep.post(
        "/files", files={"content": ("in.txt", b"hello", "text/plain")}, data={"metadata": "{}"}
    )
    check(upload, "/files", "post")
    file_id = upload.json()["id"]
    check(rep.get("/files"), "/files", "get")
    check(rep.get(f"/files/{file_id}"), "/files/{file_id}", "get")
    check(rep.get("/files/nope"), "/files/{file_id}", "get")  # the declared problem+json 404
    check(rep.get("/account"), "/account", "get")
    check(rep.get("/hardware"), "/hardware", "get")


# --- fal Platform API -------------------------------------------------------------------------------------


def test_fal_platform_models_pricing_billing(fal: httpx.Client) -> None:
    check, api, admin = (
        FAL_PLATFORM.check,
        {"Authorization": f"Key {FAL_KEY_OK}"},
        {"Authorization": f"Key {FAL_KEY_ADMIN}"},
    )
    check(fal.get("/api/v1/models", params={"limit": 3}), "/models", "get")
    found = fal.get(
        "/api/v1/models", params={"endpoint_id": "fal-ai/flux/dev", "expand": "openapi-3.0"}, headers=api
    )
    check(found, "/models", "get")
    check(fal.get("/api/v1/models", params={"cursor": "!!"}), "/models", "get")  # 400
    check(
        fal.get("/api/v1/models/pricing", params={"endpoint_id": "fal-ai/flux/dev"}, headers=api),
        "/models/pricing",
        "get",
    )
    check(
        fal.get("/api/v1/models/pricing", params={"endpoint_id": "fal-ai/flux/dev"}), "/models/pricing", "get"
    )  # 401
    check(
        fal.get("/api/v1/models/pricing", params={"endpoint_id": "x/y"}, headers=api),
        "/models/pricing",
        "get",
    )  # 404
    check(
        fal.get("/api/v1/account/billing", params={"expand": "credits"}, headers=admin),
        "/account/billing",
        "get",
    )
    check(fal.get("/api/v1/account/billing", headers=api), "/account/billing", "get")  # 403
    bad_key = {"Authorization": f"Key {FAL_KEY_UNKNOWN}"}
    check(fal.get("/api/v1/account/billing", headers=bad_key), "/account/billing", "get")  # 401


def test_fal_platform_usage_and_history(fal: httpx.Client) -> None:
    check, api, admin = (
        FAL_PLATFORM.check,
        {"Authorization": f"Key {FAL_KEY_OK}"},
        {"Authorization": f"Key {FAL_KEY_ADMIN}"},
    )
    job = fal.post("/queue/fal-ai/flux/dev", json={"prompt": "a fox", "num_images": 2}, headers=api).json()
    fal.get(job["status_url"], headers=api)
    fal.post("/run/fal-ai/flux/schnell", json={"prompt": "a cat"}, headers=api)
    estimate = {
        "estimate_type": "historical_api_price",
        "endpoints": {"fal-ai/flux/dev": {"call_quantity": 3}},
    }
    check(
        fal.post("/api/v1/models/pricing/estimate", json=estimate, headers=api),
        "/models/pricing/estimate",
        "post",
    )
    check(
        fal.post("/api/v1/models/pricing/estimate", json={}, headers=api), "/models/pricing/estimate", "post"
    )
    usage = fal.get("/api/v1/models/usage", params={"expand": "time_series,summary"}, headers=admin)
    assert usage.json()["summary"]
    check(usage, "/models/usage", "get")
    check(fal.get("/api/v1/models/usage", headers=api), "/models/usage", "get")  # 403
    events = fal.get("/api/v1/models/billing-events", params={"request_id": job["request_id"]}, headers=admin)
    assert len(events.json()["billing_events"]) == 1
    check(events, "/models/billing-events", "get")
    by_endpoint = fal.get(
        "/api/v1/models/requests/by-endpoint",
        params={"endpoint_id": "fal-ai/flux/dev,fal-ai/flux/schnell", "expand": "payloads"},
        headers=api,
    )
    assert len(by_endpoint.json()["items"]) == 2
    check(by_endpoint, "/models/requests/by-endpoint", "get")
    check(fal.get("/api/v1/models/requests/by-endpoint", headers=api), "/models/requests/by-endpoint", "get")
    search = fal.get("/api/v1/models/requests/search", params={"query": "fox"}, headers=api)
    assert len(search.json()["results"]) == 1
    check(search, "/models/requests/search", "get")


def test_fal_platform_request_listings_in_every_state_and_their_refusals(fal: httpx.Client) -> None:
    """What `history --remote fal` and `result ID -m` read: items pending, failed and cancelled, the
    request_id / start / limit / cursor filters, search's browse; and the 400s the parameter schemas imply."""
    check, api, admin = (
        FAL_PLATFORM.check,
        {"Authorization": f"Key {FAL_KEY_OK}"},
        {"Authorization": f"Key {FAL_KEY_ADMIN}"},
    )
    done = fal.post("/queue/fal-ai/flux/dev", json={"prompt": "a fox"}, headers=api).json()
    fal.get(done["status_url"], headers=api)
    failed = fal.post("/queue/fal-ai/flux/dev", json={"prompt": "x [sandbox:fail]"}, headers=api).json()
    fal.get(failed["status_url"], headers=api)
    fal.post("/queue/fal-ai/flux/dev", json={"prompt": "x [sandbox:hang]"}, headers=api)
    cancelled = fal.post(
        "/queue/fal-ai/flux/schnell", json={"prompt": "y [sandbox:hang]"}, headers=api
    ).json()
    fal.put(cancelled["cancel_url"], headers=api)

    def listed(path: str, params: dict[str, Any], headers: dict[str, str] = api) -> httpx.Response:
        answer = fal.get(f"/api/v1/models/requests/{path}", params=params, headers=headers)
        check(answer, f"/models/requests/{path}", "get")
        return answer

    both = {"endpoint_id": "fal-ai/flux/dev,fal-ai/flux/schnell"}
    items = listed("by-endpoint", both).json()["items"]
    assert sorted(str(i["status_code"]) for i in items) == ["200", "499", "500", "None"]
    one = listed("by-endpoint", {**both, "request_id": done["request_id"], "expand": "payloads"}).json()
    assert [(i["request_id"], i["json_input"]) for i in one["items"]] == [
        (done["request_id"], {"prompt": "a fox"})
    ]
    first = listed("by-endpoint", {**both, "limit": 3, "start": "2020-01-01T00:00:00Z"}).json()
    rest = listed("by-endpoint", {**both, "limit": 3, "cursor": first["next_cursor"]}).json()
    assert (len(first["items"]), first["has_more"], len(rest["items"]), rest["next_cursor"]) == (
        3,
        True,
        1,
        None,
    )
    browse = listed("search", {"limit": 2}).json()
    assert [r["request_id"] for r in browse["results"]][:1] == [cancelled["request_id"]]  # newest first
    assert "similarity" not in browse["results"][0] and browse["has_more"] is True
    assert len(listed("search", {"endpoint": "fal-ai/flux/schnell"}).json()["results"]) == 1  # deprecated
    refused = [
        listed("by-endpoint", {**both, "limit": 101}),  # the schema's maximum is 100
        listed("by-endpoint", {**both, "request_id": "not-a-uuid"}),  # format: uuid
        listed("search", {"exclude_api_requests": "true", "only_api_requests": "true"}),  # mutually exclusive
    ]
    assert [r.json()["error"]["type"] for r in refused] == ["validation_error"] * 3
    listed("search", {}, headers={})  # 401

    def estimate(body: dict[str, Any]) -> httpx.Response:
        answer = fal.post("/api/v1/models/pricing/estimate", json=body, headers=api)
        check(answer, "/models/pricing/estimate", "post")
        return answer

    units = estimate(
        {"estimate_type": "unit_price", "endpoints": {"fal-ai/flux/dev": {"unit_quantity": 0.5}}}
    )
    assert units.json()["total_cost"] == 0.0125
    calls = {
        "estimate_type": "historical_api_price",
        "endpoints": {"fal-ai/flux/dev": {"call_quantity": 1.5}},
    }
    assert estimate(calls).status_code == 400  # call_quantity is an integer
    usage = fal.get("/api/v1/models/usage", params={"expand": "summary,auth_method"}, headers=admin)
    check(usage, "/models/usage", "get")
    assert "time_series" not in usage.json() and usage.json()["summary"][0]["auth_method"]
    events = fal.get(
        "/api/v1/models/billing-events", params={"limit": 1, "expand": "auth_method"}, headers=admin
    )
    check(events, "/models/billing-events", "get")
    assert events.json()["billing_events"][0]["auth_method_structured"] == {"detail": "API Key"}


# --- fal's per-endpoint queue spec -------------------------------------------------------------------------


@pytest.mark.skipif(not SEEDREAM.is_file(), reason="no per-endpoint queue spec")
def test_fal_queue_answers_match_the_per_endpoint_queue_status_schema(
    sandbox: Sandbox, fal: httpx.Client
) -> None:
    """submit and status answers vs the generated QueueStatus schema; cancel vs its `{"success": bool}`.

    The per-endpoint spec types `logs` as an object, but fal's docs and both SDKs treat it as a list of log
    entries (fal-api.md §1.4); no recording decides it, so `logs` is checked separately (a list, or null when
    not asked for) and dropped before validating.
    """
    doc = json.loads(SEEDREAM.read_text())
    queue_status = copy.deepcopy(doc["components"]["schemas"]["QueueStatus"])
    del queue_status["properties"]["logs"]
    validator = Draft202012Validator(queue_status)
    cancel = doc["paths"]["/fal-ai/bytedance/seedream/v4/text-to-image/requests/{request_id}/cancel"]["put"]
    cancel_schema = cancel["responses"]["200"]["content"]["application/json"]["schema"]
    api = {"Authorization": f"Key {FAL_KEY_OK}"}
    sandbox.configure(queue_polls=1, progress_polls=1)
    submitted = fal.post("/queue/fal-ai/flux/dev", json={"prompt": "x"}, headers=api).json()
    answers = [submitted] + [
        fal.get(submitted["status_url"], params={"logs": "1"}, headers=api).json() for _ in range(3)
    ]
    sandbox.configure(queue_polls=0, progress_polls=0)
    assert [a["status"] for a in answers] == ["IN_QUEUE", "IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    for answer in answers:
        assert answer.get("logs") is None or isinstance(answer["logs"], list)
        assert list(validator.iter_errors({k: v for k, v in answer.items() if k != "logs"})) == []
    sandbox.configure(fal_cancel_shape="success")
    later = fal.post("/queue/fal-ai/flux/dev", json={"prompt": "x [sandbox:hang]"}, headers=api).json()
    answer = fal.put(later["cancel_url"], headers=api).json()
    assert answer == {"success": True}
    assert list(Draft202012Validator(cancel_schema).iter_errors(answer)) == []
