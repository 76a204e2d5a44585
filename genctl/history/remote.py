"""`genctl history --remote`: the provider's own recent requests, marked with whether genctl has them.

Every configured key of the provider is asked (each key may belong to another account), at most
`max_pages` pages each, so a busy account never makes the command run long. fal lists per endpoint, so
it needs the model (`-m`). A key the listing refuses (fal: a non-admin key may be refused, UNVERIFIED) is
reported per key and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genctl.errors import GenctlError, usage
from genctl.http import make_client
from genctl.providers import registry
from genctl.providers.factory import get_provider
from genctl.providers.listing import (
    Page,
    RemoteRequest,
    fal_list_request,
    parse_fal_page,
    parse_replicate_page,
    replicate_get_request,
    replicate_list_request,
)

if TYPE_CHECKING:
    import httpx

    from genctl.history import History
    from genctl.settings import ProviderSettings, Settings
    from genctl.values import HttpRequest, Key

MAX_PAGES = 3  # per key: Replicate 300 predictions, fal 150 requests


@dataclass(frozen=True)
class RemoteRow:
    request: RemoteRequest
    key_label: str
    recorded: bool  # genctl's history has this request id

    def to_json(self) -> dict[str, Any]:
        return {**self.request.to_json(), "key": self.key_label, "recorded": self.recorded}


@dataclass(frozen=True)
class RemoteListing:
    rows: tuple[RemoteRow, ...]
    problems: tuple[tuple[str, GenctlError], ...]  # (key label, why its listing failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "count": len(self.rows),
            "requests": [row.to_json() for row in self.rows],
            "key_errors": [{"key": label, **err.to_json()} for label, err in self.problems],
        }


def list_remote(
    settings: Settings,
    history: History,
    provider: str,
    *,
    model: str | None = None,
    max_pages: int = MAX_PAGES,
    only_unrecorded: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> RemoteListing:
    info = registry.info(provider)
    chosen = settings.providers.get(provider)
    if chosen is None or not chosen.keys:
        raise usage(f"No {provider} key is configured.", fix=f"export {info.key_env}=…")
    if provider == registry.FAL.name and not model:
        raise usage(
            f"{provider} lists requests per endpoint, so --remote needs the model.",
            fix=f"genctl history --remote {provider} -m MODEL",
        )
    rows: list[RemoteRow] = []
    problems: list[tuple[str, GenctlError]] = []
    seen: set[str] = set()
    client = make_client(timeout=chosen.timeout, connect_timeout=chosen.connect_timeout, transport=transport)
    with client:
        for key in chosen.keys:
            try:
                found = _pages(client, chosen, key, model, max_pages)
            except GenctlError as err:
                problems.append((key.label, err))
                continue
            for item in found:
                if item.request_id in seen:
                    continue  # two keys of one account list the same requests
                seen.add(item.request_id)
                recorded = history.find(item.request_id) is not None
                if not (only_unrecorded and recorded):
                    rows.append(RemoteRow(item, key.label, recorded))
    if problems and not rows and len(problems) == len(chosen.keys):
        raise problems[0][1]
    return RemoteListing(tuple(rows), tuple(problems))


def _pages(
    client: httpx.Client, chosen: ProviderSettings, key: Key, model: str | None, max_pages: int
) -> list[RemoteRequest]:
    provider = chosen.name
    api_url = {**registry.info(provider).default_urls, **chosen.urls}["api_url"]
    found: list[RemoteRequest] = []
    where: str | None = None
    for _ in range(max_pages):
        request: HttpRequest
        parse: Callable[[str, httpx.Response], Page]
        if provider == registry.FAL.name:
            assert model is not None
            request, parse = fal_list_request(api_url, key, model, cursor=where), parse_fal_page
        else:
            request, parse = replicate_list_request(api_url, key, next_url=where), parse_replicate_page
        response = client.request(request.method, request.url, headers=request.headers, params=request.params)
        if not response.is_success:
            raise get_provider(provider, chosen).error_from_response(response, key=key)
        page = parse(provider, response)
        found.extend(page.requests)
        if page.next is None:
            break
        where = page.next
    return found


def adopt(settings: Settings, history: History, request_id: str) -> bool:
    """Record a Replicate prediction genctl never recorded, found by id with a configured key, so that
    `genctl result ID` can finish it; False when no key's account has it (or it is not a Replicate id).

    fal cannot be looked up by id alone (its URLs need the endpoint): not done yet."""
    chosen = settings.providers.get(registry.REPLICATE.name)
    if chosen is None or not chosen.keys:
        return False
    provider = get_provider(chosen.name, chosen)
    api_url = {**registry.info(chosen.name).default_urls, **chosen.urls}["api_url"]
    with make_client(timeout=chosen.timeout, connect_timeout=chosen.connect_timeout) as client:
        for key in chosen.keys:
            request = replicate_get_request(api_url, key, request_id)
            response = client.request(request.method, request.url, headers=request.headers)
            if response.status_code == 404:
                continue  # another account's, or no such prediction
            if not response.is_success:
                raise provider.error_from_response(response, key=key)
            body = response.json()
            model = body.get("model") if isinstance(body, dict) else None
            job, _ = provider.parse_submit(response, model=str(model or ""), key=key)
            inputs = body.get("input") if isinstance(body, dict) else None
            prompt = inputs.get("prompt") if isinstance(inputs, dict) else None
            history.add(
                job=job,
                key=key,
                prompt=prompt if isinstance(prompt, str) else None,
                params=inputs if isinstance(inputs, dict) else {},
                output_dir=None,
            )
            return True
    return False
