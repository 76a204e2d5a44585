"""genctl.providers.listing against the sandbox's request listings over loopback HTTP, and hostile bodies."""

from __future__ import annotations

import httpx
import pytest

from genctl.errors import GenctlError
from genctl.providers.listing import (
    RemoteRequest,
    fal_list_request,
    parse_fal_page,
    parse_replicate_page,
    replicate_list_request,
)
from genctl.sandbox import Sandbox
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK
from genctl.values import HttpRequest, Key

FAL = Key("fal", "test", "test", FAL_KEY_OK)
REPLICATE = Key("replicate", "test", "test", REPLICATE_TOKEN_OK)


def send(client: httpx.Client, request: HttpRequest) -> httpx.Response:
    return client.request(request.method, request.url, headers=request.headers, params=request.params)


def test_replicate_listing_shows_predictions_newest_first(sandbox: Sandbox) -> None:
    api = f"{sandbox.url}/replicate/v1"
    auth = {"Authorization": f"Bearer {REPLICATE_TOKEN_OK}"}
    with httpx.Client(timeout=10) as client:
        made = [
            client.post(
                f"{api}/models/black-forest-labs/flux-schnell/predictions",
                json={"input": {"prompt": f"fox {n}"}},
                headers=auth,
            ).json()["id"]
            for n in range(2)
        ]
        page = parse_replicate_page("replicate", send(client, replicate_list_request(api, REPLICATE)))
    assert [r.request_id for r in page.requests] == made[::-1]
    assert page.next is None
    first = page.requests[0]
    assert (first.provider, first.model) == ("replicate", "black-forest-labs/flux-schnell")
    assert first.status in ("pending", "succeeded") and first.created_at


def test_fal_listing_shows_an_endpoints_requests(sandbox: Sandbox) -> None:
    auth = {"Authorization": f"Key {FAL_KEY_OK}"}
    with httpx.Client(base_url=f"{sandbox.url}/fal", timeout=10) as client:
        queued = client.post("/queue/fal-ai/flux/dev", json={"prompt": "red fox"}, headers=auth).json()
        assert client.get(queued["status_url"], headers=auth).json()["status"] == "COMPLETED"
        request = fal_list_request(f"{sandbox.url}/fal/api/v1", FAL, "fal-ai/flux/dev")
        page = parse_fal_page("fal", send(client, request))
    assert page == type(page)(
        (RemoteRequest("fal", queued["request_id"], "fal-ai/flux/dev", "succeeded", *_times(page)),), None
    )


def _times(page: object) -> tuple[str | None, str | None]:
    only = page.requests[0]  # type: ignore[attr-defined]
    assert only.created_at and only.ended_at
    return only.created_at, only.ended_at


def answer(body: object) -> httpx.Response:
    return httpx.Response(200, json=body, request=httpx.Request("GET", "http://x/predictions"))


@pytest.mark.parametrize(
    "body",
    [
        {"results": [{"id": 3}, "x", None, {"status": "succeeded"}], "next": 7},
        {"results": "nope", "next": None},
        {},
    ],
)
def test_a_lying_replicate_listing_gives_an_empty_page_not_a_crash(body: object) -> None:
    assert parse_replicate_page("replicate", answer(body)).requests == ()
    assert parse_replicate_page("replicate", answer(body)).next is None


def test_a_fal_listing_that_is_not_an_object_is_provider_unavailable() -> None:
    with pytest.raises(GenctlError) as caught:
        parse_fal_page("fal", answer(["items"]))
    assert caught.value.code == "provider.unavailable"


def test_a_fal_item_still_running_is_pending_and_a_4xx_failed() -> None:
    items = [
        {"request_id": "a", "endpoint_id": "e", "ended_at": None, "status_code": None},
        {"request_id": "b", "endpoint_id": "e", "ended_at": "2026-01-01T00:00:00Z", "status_code": 422},
    ]
    page = parse_fal_page("fal", answer({"items": items, "has_more": True, "next_cursor": "Mg=="}))
    assert [r.status for r in page.requests] == ["pending", "failed"] and page.next == "Mg=="
