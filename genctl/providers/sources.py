"""What the catalogue fetches from each provider, every fetch through the catalogue's one cache rule.

One `Source` per provider (`SOURCES`, by name) says *what* to fetch and how to read it back (via the pure
builders in `genctl.providers.fal_catalog` / `replicate_catalog`); `genctl.catalog.Catalog` supplies *how*
(the `Fetcher` protocol: the cache rule, sending with retries, keys, notices) and never names a provider.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from genctl import deadline
from genctl.errors import CredentialError, GenctlError, ModelError, error
from genctl.providers import fal_catalog as fc
from genctl.providers import replicate_catalog as rc
from genctl.providers._common import scrub
from genctl.providers.base import ModelInfo, Price
from genctl.providers.fal import FalProvider, app_splits, split_endpoint
from genctl.providers.replicate import parse_model_ref
from genctl.providers.schema import InputSchema, parse_input_schema
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.http import RetryPolicy
    from genctl.providers.base import Provider
    from genctl.values import Key

T = TypeVar("T")
# A request id no job has: asking its status shows whether fal's queue knows the app at all.
PROBE_REQUEST_ID = "00000000-0000-4000-8000-000000000000"
MAX_PAGES = 50  # a runaway cursor stops here (5,000 fal endpoints at 100 a page)
FEED_PAGES = 3  # Replicate's `GET /models` lists every public model, newest first: only its head is useful
log = logging.getLogger("genctl.catalog")


class NotCached(Exception):
    """A cache-only catalogue (`--dry-run`) has no copy of what was asked."""


@dataclass(frozen=True)
class ModelDetail:
    """One model: its catalogue entry and, when known, its input schema (of `version` on Replicate)."""

    info: ModelInfo
    schema: InputSchema | None
    version: str | None = None


class Fetcher(Protocol):
    """The catalogue's plumbing, as the sources use it."""

    urls: dict[str, str]
    keys: Mapping[str, Key | None]
    page_size: int

    def notify(self, message: str) -> None: ...

    def progress(self, what: str, done: int, total: int | None) -> None: ...

    def cached(
        self,
        provider: str,
        name: str,
        fetch: Callable[[RetryPolicy], Any],
        load: Callable[[Any], T],
        *,
        peek: bool = False,
    ) -> T: ...

    def send(
        self,
        provider: str,
        request: HttpRequest,
        policy: RetryPolicy,
        *,
        key: Key | None,
        model: str | None = None,
    ) -> httpx.Response: ...

    def require_key(self, provider: str, what: str) -> Key: ...

    @property
    def providers(self) -> Mapping[str, Provider]: ...


class Source(Protocol):
    """One provider's catalogue, as `genctl.catalog.Catalog` asks it."""

    def find(self, model_id: str) -> ModelDetail | None:
        """The model and its input schema; None when the catalogue has no such model."""
        ...

    def all_models(self, *, peek: bool = False) -> list[ModelInfo]:
        """The whole catalogue (`peek`: only a cached copy, else NotCached)."""
        ...

    def models(self, query: str | None, category: str | None, limit: int | None) -> list[ModelInfo]:
        """Models matching the query and category, in the provider's order."""
        ...

    def candidates(self, hint: str, *, whole: bool) -> list[ModelInfo]:
        """Models a did-you-mean may pick from, as cheaply as they can be had."""
        ...

    def prices(self, model_ids: list[str]) -> dict[str, Price]:
        """List prices where the provider publishes them; {} otherwise."""
        ...

    def categories(self) -> set[str]:
        """The categories known at run time."""
        ...

    def near_ids(self, model_id: str) -> list[str]:
        """Ids the mistyped `model_id` most likely meant, from its shape alone (no catalogue)."""
        ...

    def own_words(self, model_id: str, key: Key, policy: RetryPolicy) -> GenctlError | None:
        """What the provider itself says of a model its catalogue lacks, asked for free; None: nothing."""
        ...


def infos(data: Any) -> list[ModelInfo]:
    return [ModelInfo.from_json(item) for item in data["models"]]


def dump(models: Iterable[ModelInfo]) -> dict[str, Any]:
    return {"models": [m.to_json() for m in models]}


def merge_same(models: Iterable[ModelInfo]) -> list[ModelInfo]:
    """One entry per (provider, id), first one wins; a later one may fill its missing category."""
    merged: dict[tuple[str, str], ModelInfo] = {}
    for model in models:
        first = merged.get((model.provider, model.id))
        if first is None:
            merged[(model.provider, model.id)] = model
        elif first.category is None and model.category is not None:
            merged[(model.provider, model.id)] = replace(
                first, category=model.category, kind=model.kind or first.kind
            )
    return list(merged.values())


class FalSource:
    """fal's platform API: `GET /models` (list, search, find with OpenAPI) and `/models/pricing`."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.f = fetcher

    def _get(
        self, build: Callable[[Key | None], HttpRequest], policy: RetryPolicy, model: str | None = None
    ) -> httpx.Response:
        """A platform GET with the fal key if any; on a key error once more without it (auth is optional)."""
        key = self.f.keys.get("fal")
        try:
            return self.f.send("fal", build(key), policy, key=key, model=model)
        except CredentialError:
            if key is None:
                raise
            log.debug("fal refused the key on the platform API; retrying without it")
            try:
                return self.f.send("fal", build(None), policy, key=None, model=model)
            except GenctlError as err:  # the answer to the keyless try may still quote the refused key
                raise scrub(err, key) from None

    def models(self, query: str | None, category: str | None, limit: int | None) -> list[ModelInfo]:
        return self.search(query, category, limit)

    def candidates(self, hint: str, *, whole: bool) -> list[ModelInfo]:
        """A whole catalogue already cached; else a search for the first word of `hint` (one or two
        pages); else, when `whole`, every page."""
        try:
            return self.all_models(peek=True)
        except NotCached:
            word = next((w for w in hint.split() if len(w) >= 3 and not w[0].isdigit()), "")
            found = self.search(word, None, None) if word else []
        return found or (self.all_models() if whole else [])

    def categories(self) -> set[str]:
        return {m.category for m in self.all_models() if m.category}

    def own_words(self, model_id: str, key: Key, policy: RetryPolicy) -> GenctlError | None:
        """The queue's answer for the app: the status of a request no one made (free). An unknown app is
        fal's model.not_found ("Application 'x' not found", fal-api.md §2.2). Any other answer proves
        nothing: UNVERIFIED what the queue says for a known app (fal-api.md §8)."""
        fal = self.f.providers["fal"]
        assert isinstance(fal, FalProvider)
        try:
            app, _ = split_endpoint(model_id)
        except GenctlError as err:
            return err
        url = f"{fal.queue_url}/{app}/requests/{PROBE_REQUEST_ID}/status"
        request = HttpRequest("GET", url, headers=FalProvider.headers(key), idempotent=True)
        try:
            self.f.send("fal", request, policy, key=key, model=model_id)
        except GenctlError as err:
            return err
        return None

    def near_ids(self, model_id: str) -> list[str]:
        """`fal-ai/flux-dev` → `fal-ai/flux/dev`: the app name split where fal hosts it (§6.1)."""
        try:
            return app_splits(model_id, split_endpoint(model_id)[0])
        except GenctlError:
            return []

    def _pages(self, policy: RetryPolicy, limit: int | None, **query: Any) -> dict[str, Any]:
        models: list[ModelInfo] = []
        cursor: str | None = None
        url, page_size = self.f.urls["fal"], self.f.page_size
        for page_number in range(1, MAX_PAGES + 1):
            size = page_size if limit is None else max(1, min(page_size, limit - len(models)))

            def build(key: Key | None, c: str | None = cursor, n: int = size) -> HttpRequest:
                return fc.models_request(url, key=key, cursor=c, limit=n, **query)

            page = fc.parse_models_page(self._get(build, policy))
            models += page.models
            self.f.progress("fal.ai catalogue pages", page_number, None)
            cursor = page.next_cursor
            if cursor is None or (limit is not None and len(models) >= limit):
                break
        return dump(models)

    def all_models(self, *, peek: bool = False) -> list[ModelInfo]:
        """fal's whole catalogue, every status (did-you-mean needs the deprecated ids too).

        `peek`: only a cached copy (NotCached without one), for look-ups that can do with less.
        """
        return self.f.cached("fal", "models", lambda policy: self._pages(policy, None), infos, peek=peek)

    def search(self, query: str | None, category: str | None, limit: int | None) -> list[ModelInfo]:
        """Active models matching `q` and `category` (server-side), or the whole active catalogue."""
        if not query and not category:
            return [m for m in self.all_models() if m.status in (None, "active")]
        name = f"search q={query or ''} category={category or ''} limit={limit}"
        args = {"q": query, "category": category, "status": "active"}
        return self.f.cached("fal", name, lambda policy: self._pages(policy, limit, **args), infos)

    def find(self, model_id: str) -> ModelDetail | None:
        """Find mode with the OpenAPI document inlined (§3.1, §3.3); None for an unknown id."""
        endpoint_id = model_id.strip().strip("/")
        url = self.f.urls["fal"]

        def fetch(policy: RetryPolicy) -> dict[str, Any] | None:
            response = self._get(
                lambda key: fc.models_request(url, key=key, endpoint_ids=[endpoint_id], expand_openapi=True),
                policy,
                model=endpoint_id,
            )
            page = fc.parse_models_page(response)
            info = next((m for m in page.models if m.id == endpoint_id), None)
            if info is None:
                return None  # unknown in Find mode (404 or empty list is unverified, §3.1): not cached
            found = fc.input_schema(page.openapi.get(endpoint_id), endpoint_id)
            schema = {"input": found[0], "components": found[1]} if found else None
            return {"model": info.to_json(), "schema": schema}

        def load(data: Any) -> ModelDetail | None:
            if data is None:
                return None
            schema = data["schema"]
            parsed = parse_input_schema(schema["input"], schema["components"]) if schema else None
            return ModelDetail(ModelInfo.from_json(data["model"]), parsed)

        try:
            return self.f.cached("fal", f"schema {endpoint_id}", fetch, load)
        except ModelError:
            return None  # the platform API's own 404 for an unknown id

    def prices(self, endpoint_ids: list[str]) -> dict[str, Price]:
        """List prices (needs a key, §3.2), batches at once; {} without a key or when the call fails."""
        key = self.f.keys.get("fal")
        if key is None or not endpoint_ids:
            return {}
        ids = sorted(set(endpoint_ids))
        batches = [ids[i : i + fc.MAX_IDS] for i in range(0, len(ids), fc.MAX_IDS)]

        def batch(chunk: list[str]) -> dict[str, Price]:
            def fetch(policy: RetryPolicy) -> dict[str, Any]:
                request = fc.pricing_request(self.f.urls["fal"], chunk, key=key)
                prices = fc.parse_pricing(self.f.send("fal", request, policy, key=key))
                return {eid: price.to_json() for eid, price in prices.items()}

            def load(data: Any) -> dict[str, Price]:
                return {k: Price.from_json(v) for k, v in data.items()}

            try:
                return self.f.cached("fal", "prices " + ",".join(chunk), fetch, load)
            except GenctlError as err:  # prices only decorate a listing
                log.debug("no fal prices: %s", err)
                return {}

        with ThreadPoolExecutor(max_workers=4) as pool:
            return {
                eid: price
                for found in pool.map(deadline.carried(batch), batches)
                for eid, price in found.items()
            }


class ReplicateSource:
    """Replicate's collections, `GET /models` feed, search, models and versions."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.f = fetcher
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.f.urls["replicate"]

    def models(self, query: str | None, category: str | None, limit: int | None) -> list[ModelInfo]:
        if query:
            found = self.search(query, limit)
            return [m for m in found if not category or m.category == category or category in m.tags]
        if category:
            # Collection slugs double as categories: `text-to-image` and `text-to-video` are real slugs
            # (replicate-api.md §3.1); whether others match fal's category names is unverified.
            return self.collection(category)
        return self.all_models()

    def candidates(self, hint: str, *, whole: bool) -> list[ModelInfo]:
        """A search (one request, no token); else, when `whole` and a token is set, the collections."""
        found = self.search(hint) if hint.strip() else []
        if whole and not found and self.f.keys.get("replicate") is not None:
            found = self.all_models()
        return found

    def prices(self, model_ids: list[str]) -> dict[str, Price]:
        return {}  # Replicate publishes no prices through its API (replicate-api.md §1.8)

    def near_ids(self, model_id: str) -> list[str]:
        return []

    def own_words(self, model_id: str, key: Key, policy: RetryPolicy) -> GenctlError | None:
        """Replicate's own 404 for the model (the catalogue turns it into "none")."""
        owner, name, _ = parse_model_ref(model_id)
        if owner is None or name is None:
            return None
        try:
            self.f.send(
                "replicate", rc.model_request(self.url, owner, name, key=key), policy, key=key, model=model_id
            )
        except GenctlError as err:
            return err
        return None

    def categories(self) -> set[str]:
        if self.f.keys.get("replicate") is None:
            return set()
        try:
            return set(self.slugs())
        except GenctlError as err:
            log.debug("no Replicate collections: %s", err)
            return set()

    def collection(self, slug: str) -> list[ModelInfo]:
        """The models of one collection (`text-to-image`, …); [] when there is no such collection."""
        key = self.f.require_key("replicate", "list a collection")

        def fetch(policy: RetryPolicy) -> dict[str, Any]:
            request = rc.collection_request(self.url, slug, key=key)
            return dump(rc.parse_collection(self.f.send("replicate", request, policy, key=key))[1])

        try:
            return self.f.cached("replicate", f"collection {slug}", fetch, infos)
        except ModelError:  # 404: not a collection slug
            return []

    def slugs(self) -> list[str]:
        key = self.f.require_key("replicate", "list collections")

        def fetch(policy: RetryPolicy) -> dict[str, Any]:
            slugs: list[str] = []
            request = rc.collections_request(self.url, key=key)
            for _ in range(MAX_PAGES):
                page = self.f.send("replicate", request, policy, key=key)
                results, next_url = rc.parse_page(page, "collections")
                slugs += [str(r["slug"]) for r in results if r.get("slug")]
                if next_url is None:
                    break
                request = rc.collections_request(self.url, key=key, next_url=next_url)
            return {"slugs": slugs}

        return self.f.cached("replicate", "collections", fetch, lambda data: [str(s) for s in data["slugs"]])

    def feed(self, pages: int = FEED_PAGES) -> list[ModelInfo]:
        """The first pages of `GET /models` (newest first; the cursor is a URL, so one page at a time)."""
        key = self.f.require_key("replicate", "list models")

        def fetch(policy: RetryPolicy) -> dict[str, Any]:
            models: list[ModelInfo] = []
            request = rc.models_page_request(self.url, key=key)
            for _ in range(pages):
                found, next_url = rc.parse_models_page(self.f.send("replicate", request, policy, key=key))
                models += found
                if next_url is None:
                    break
                request = rc.models_page_request(self.url, key=key, next_url=next_url)
            return dump(models)

        return self.f.cached("replicate", f"models feed pages={pages}", fetch, infos)

    def all_models(self, *, peek: bool = False) -> list[ModelInfo]:
        """Every collection (fetched at once, each cached on its own) and the head of the feed."""
        if peek:
            raise NotCached("Replicate's catalogue is not cached whole")
        slugs = self.slugs()
        done = [0]

        def one(slug: str) -> list[ModelInfo]:
            found = self.collection(slug)
            with self._lock:
                done[0] += 1
                self.f.progress("Replicate collections", done[0], len(slugs))
            return found

        with ThreadPoolExecutor(max_workers=4) as pool:
            collections = list(pool.map(deadline.carried(one), slugs))
        return merge_same([*(m for found in collections for m in found), *self.feed()])

    def search(self, query: str, limit: int | None = None) -> list[ModelInfo]:
        def fetch(policy: RetryPolicy) -> dict[str, Any]:
            request = rc.search_request(self.url, query, limit=limit or rc.SEARCH_LIMIT)
            return dump(rc.parse_search(self.f.send("replicate", request, policy, key=None)))

        return self.f.cached("replicate", f"search {query} limit={limit}", fetch, infos)

    def find(self, model_id: str) -> ModelDetail | None:
        """The model object (and the version's schema when one is named); None when Replicate has none."""
        owner, name, version = parse_model_ref(model_id.strip())
        if owner is None or name is None:
            return None  # a bare version id names no model
        ref = f"{owner}/{name}"
        if self.f.keys.get("replicate") is None:
            # Search needs no token but its results carry no schema (the spec's example shows
            # `openapi_schema: {}`, §3.1): the entry without its inputs.
            found = next((m for m in self.search(ref) if m.id == ref), None)
            if found is not None:
                self.f.notify("Replicate: reading a model's input schema needs REPLICATE_API_TOKEN.")
            return ModelDetail(found, None, version) if found else None
        key = self.f.require_key("replicate", "read a model")

        def fetch(policy: RetryPolicy) -> Any:
            request = rc.model_request(self.url, owner, name, key=key)
            body = rc.model_object(self.f.send("replicate", request, policy, key=key))
            return {k: v for k, v in body.items() if k != "default_example"}  # a whole prediction: not needed

        try:
            body = self.f.cached("replicate", f"model {ref}", fetch, _model_body)
        except ModelError:
            return None
        info = rc.model_info(body)
        latest = body.get("latest_version") or {}
        openapi = latest.get("openapi_schema")
        if version is not None and version != latest.get("id"):
            openapi = self._version_schema(owner, name, version)
        found_schema = rc.input_schema(openapi)
        schema = parse_input_schema(*found_schema) if found_schema else None
        return ModelDetail(info, schema, version or info.latest_version)

    def _version_schema(self, owner: str, name: str, version: str) -> Any:
        key = self.f.require_key("replicate", "read a version")

        def fetch(policy: RetryPolicy) -> Any:
            request = rc.version_request(self.url, owner, name, version, key=key)
            return rc.parse_version(self.f.send("replicate", request, policy, key=key))

        try:
            return self.f.cached(
                "replicate", f"version {owner}/{name}:{version}", fetch, lambda d: d["openapi_schema"]
            )
        except ModelError as err:
            raise error(
                "model.not_found",
                f"Replicate has no version {version} of {owner}/{name}.",
                fix=f"Pick one at https://replicate.com/{owner}/{name}/versions, or drop :VERSION (latest).",
                provider="replicate",
                http_status=err.http_status,
            ) from err


def _model_body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not data.get("owner") or not data.get("name"):
        raise ValueError("not a model object")
    return data


SOURCES: dict[str, Callable[[Fetcher], Source]] = {"fal": FalSource, "replicate": ReplicateSource}
