"""`genctl history --remote`: the provider's own recent requests, marked with whether genctl has them;
and adopting one genctl never recorded, so that `genctl result ID` can save its outputs.

Every configured key of the provider is asked (each key may belong to another account), at most
`max_pages` pages each, so a busy account never makes the command run long. fal lists one endpoint's
requests (`-m`) or, without it, every endpoint's through its request search. A key the listing refuses is
reported per key and does not stop the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from genctl import aliases
from genctl.errors import GenctlError, usage
from genctl.http import RetryPolicy, make_client, send
from genctl.keys import iso
from genctl.providers import registry
from genctl.providers.factory import get_provider
from genctl.providers.fal import FalProvider, split_endpoint
from genctl.providers.listing import (
    FAL_PAGE,
    Page,
    RemoteRequest,
    fal_job,
    fal_list_request,
    fal_search_request,
    parse_fal_page,
    parse_replicate_page,
    replicate_get_request,
    replicate_list_request,
)

if TYPE_CHECKING:
    import httpx

    from genctl.history import History
    from genctl.providers.base import Job
    from genctl.settings import ProviderSettings, Settings
    from genctl.values import HttpRequest, Key

MAX_PAGES = 3  # per key: Replicate 300 predictions, fal 150 requests (300 with --limit 100 or more)


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


@dataclass(frozen=True)
class _Query:
    model: str | None  # fal: the endpoint; None lists every endpoint (search)
    since: float | None  # Unix time: only requests created at or after it
    limit: int | None  # at most this many rows (None: every row the pages hold)


def list_remote(
    settings: Settings,
    history: History,
    provider: str,
    *,
    model: str | None = None,
    since: float | None = None,
    limit: int | None = None,
    max_pages: int = MAX_PAGES,
    only_unrecorded: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> RemoteListing:
    """The newest `limit` requests since `since` over every key, newest first, each id once."""
    info = registry.info(provider)
    chosen = settings.providers.get(provider)
    if chosen is None or not chosen.keys:
        raise usage(f"No {provider} key is configured.", fix=f"export {info.key_env}=…")
    if provider == registry.FAL.name:
        model = _fal_endpoint(settings, model)
    query = _Query(model, since, None if only_unrecorded else limit)
    rows: list[RemoteRow] = []
    problems: list[tuple[str, GenctlError]] = []
    seen: set[str] = set()
    client = make_client(timeout=chosen.timeout, connect_timeout=chosen.connect_timeout, transport=transport)
    with client:
        for key in chosen.keys:
            try:
                found = _pages(client, chosen, key, query, max_pages)
            except GenctlError as err:
                problems.append((key.label, err))
                continue
            for item in found:
                if item.request_id in seen or not _since(item, since):
                    continue  # two keys of one account list the same requests
                seen.add(item.request_id)
                recorded = history.find(item.request_id) is not None
                if not (only_unrecorded and recorded):
                    rows.append(RemoteRow(item, key.label, recorded))
    if problems and not rows and len(problems) == len(chosen.keys):
        raise problems[0][1]
    rows.sort(key=lambda row: _created(row.request) or float("-inf"), reverse=True)  # keys interleaved
    return RemoteListing(tuple(rows[:limit] if limit else rows), tuple(problems))


def _pages(
    client: httpx.Client, chosen: ProviderSettings, key: Key, query: _Query, max_pages: int
) -> list[RemoteRequest]:
    provider = chosen.name
    api_url = _api_url(chosen)
    start = iso(query.since)
    found: list[RemoteRequest] = []
    where: str | None = None
    size = query.limit or FAL_PAGE
    for _ in range(max_pages):
        request: HttpRequest
        parse: Callable[[str, httpx.Response], Page] = parse_fal_page
        if provider != registry.FAL.name:
            request = replicate_list_request(api_url, key, next_url=where, created_after=start)
            parse = parse_replicate_page
        elif query.model:
            request = fal_list_request(api_url, key, query.model, cursor=where, limit=size, start=start)
        else:
            request = fal_search_request(api_url, key, cursor=where, limit=size)
        response = _send(client, request, provider)
        if not response.is_success:
            raise _refused(get_provider(provider, chosen).error_from_response(response, key=key))
        page = parse(provider, response)
        found.extend(page.requests)
        # Replicate's list and fal's search are newest first: a request older than --since means the rest
        # are older too. (fal's by-endpoint is sorted by end time and filtered by `start` itself.)
        by_creation = provider != registry.FAL.name or not query.model
        older = by_creation and any(not _since(item, query.since) for item in page.requests)
        if page.next is None or older or (query.limit and len(found) >= query.limit):
            break
        where = page.next
    return found


def _refused(err: GenctlError) -> GenctlError:
    """A listing's error; a 403 on fal's request listings as a scope finding whose fix is an ADMIN key.

    UNVERIFIED: whether fal refuses request listings to a non-admin key. The spec gives by-endpoint and
    search `security: apiKey` ("Requires API key (user or enterprise)"), not the `adminApiKey` of usage and
    billing events, yet the issue and fal-api.md §3.2 group them with the ADMIN reads; no recorded exchange
    shows either answer, so a 403 is taken as the scope refusal and every other key is still asked.
    """
    if err.provider != registry.FAL.name or err.http_status != 403 or err.code != "key.scope":
        return err
    return dataclasses.replace(
        err,
        fix=f"fal may list an account's requests only to an ADMIN key: create one at "
        f"{registry.FAL.key_page} (scope ADMIN) and add it (`genctl keys add fal`).",
    )


def _created(item: RemoteRequest) -> float | None:
    try:
        return datetime.fromisoformat(item.created_at).timestamp() if item.created_at else None
    except ValueError:
        return None


def _since(item: RemoteRequest, since: float | None) -> bool:
    """Whether the request is not known to be older than `since` (one without a time is kept)."""
    created = _created(item)
    return since is None or created is None or created >= since


def _fal_endpoint(settings: Settings, model: str | None) -> str | None:
    """`-m flux-schnell`: an alias stands for its fal endpoint; any other id is taken as written."""
    alias = aliases.table(settings).get(model) if model else None
    if alias is not None and registry.FAL.name in alias.targets:
        return alias.targets[registry.FAL.name].model
    return model


def _api_url(chosen: ProviderSettings) -> str:
    return {**registry.info(chosen.name).default_urls, **chosen.urls}["api_url"]


# -- adopting a request genctl never recorded ------------------------------------------------------------


def adopt(settings: Settings, history: History, request_id: str, *, endpoint: str | None = None) -> bool:
    """Record a request genctl never recorded, found by id with a configured key, so that `genctl result
    ID` can finish it; False when no key's account has it. fal's URLs need the endpoint (`endpoint`);
    without it (or with a Replicate model id) the id is looked up as a Replicate prediction."""
    endpoint = _fal_endpoint(settings, endpoint)
    if endpoint and registry.detect(endpoint) != registry.REPLICATE.name:
        split_endpoint(endpoint)  # a malformed id is refused before anything is sent
        return _adopt_fal(settings, history, request_id, endpoint)
    chosen = settings.providers.get(registry.REPLICATE.name)
    if chosen is None or not chosen.keys:
        return False
    provider = get_provider(chosen.name, chosen)
    api_url = _api_url(chosen)
    with make_client(timeout=chosen.timeout, connect_timeout=chosen.connect_timeout) as client:
        for key in chosen.keys:
            request = replicate_get_request(api_url, key, request_id)
            response = _send(client, request, chosen.name)
            if response.status_code == 404:
                continue  # another account's, or no such prediction
            if not response.is_success:
                raise provider.error_from_response(response, key=key)
            body = response.json()
            model = body.get("model") if isinstance(body, dict) else None
            job, _ = provider.parse_submit(response, model=str(model or ""), key=key)
            inputs = body.get("input") if isinstance(body, dict) else None
            _record(history, job, key, inputs if isinstance(inputs, dict) else None)
            return True
    return False


def _adopt_fal(settings: Settings, history: History, request_id: str, endpoint: str) -> bool:
    """Each key's own request list first (`request_id` filter, 90 days back): it says whose the request is
    and what it was asked. If no list has it (a key the listing refuses, or a request it does not show
    yet), the queue's status URL decides, as it does for a recorded job."""
    chosen = settings.providers.get(registry.FAL.name)
    if chosen is None or not chosen.keys:
        raise usage(
            f"No fal key is configured, so genctl cannot look {request_id} up on {endpoint}.",
            fix=f"export {registry.FAL.key_env}=…",
        )
    provider = FalProvider.from_settings(chosen)
    api_url = _api_url(chosen)
    with make_client(timeout=chosen.timeout, connect_timeout=chosen.connect_timeout) as client:
        for key in chosen.keys:
            listing = fal_list_request(api_url, key, endpoint, request_id=request_id, payloads=True, limit=1)
            response = _send(client, listing, provider.name)
            if not response.is_success:
                continue  # refused or not understood: the queue is asked below
            for item in parse_fal_page(provider.name, response).requests:
                if item.request_id == request_id:
                    _record(
                        history, fal_job(provider, item.model or endpoint, request_id, key), key, item.input
                    )
                    return True
        refused: GenctlError | None = None
        for key in chosen.keys:
            job = fal_job(provider, endpoint, request_id, key)
            response = _send(client, provider.status_request(job, key=key, logs=False), provider.name)
            if response.is_success:
                _record(history, job, key, None)
                return True
            err = provider.error_from_response(response, model=endpoint, key=key)
            if err.code == "model.not_found":
                raise err  # a wrong endpoint is wrong for every key
            if response.status_code != 404:  # "Request not found" is another account's; a refused key
                refused = refused or err  # (invalid, locked) is said only if no other key has it
    if refused is not None:
        raise refused
    return False


def _send(client: httpx.Client, request: HttpRequest, provider: str) -> httpx.Response:
    """A listing or look-up GET through genctl.http: retried when safe, bounded, keys redacted, and a host
    that cannot be reached a one-line error (network.*) instead of httpx's exception."""
    return send(client, request, policy=RetryPolicy(), provider=provider)


def _record(history: History, job: Job, key: Key, inputs: dict[str, Any] | None) -> None:
    prompt = inputs.get("prompt") if inputs else None
    history.add(
        job=job,
        key=key,
        prompt=prompt if isinstance(prompt, str) else None,
        params=inputs or {},
        output_dir=None,
    )


def not_found(history: History, request_id: str, endpoint: str | None) -> GenctlError:
    """`genctl result ID` of an id neither history nor any configured key's account has."""
    if endpoint and registry.detect(endpoint) != registry.REPLICATE.name:
        return usage(
            f"No job {request_id!r} in the history ({history.path}), and no configured fal key's account "
            f"has request {request_id} on {endpoint}.",
            fix=f"Check the id and the endpoint: `genctl history --remote fal -m {endpoint}` lists its "
            f"recent requests ({registry.FAL.retention.rule}).",
        )
    return usage(
        f"No job {request_id!r} in the history ({history.path}).",
        fix="`genctl history` lists the recorded jobs (not those run with --no-history or [history] "
        "enabled = false); a fal request genctl never recorded needs its endpoint: `genctl result ID -m "
        "ENDPOINT` (`genctl history --remote fal` lists them with theirs).",
    )
