"""The model catalogue of both providers: cached listings and input schemas, search and merge, look-ups.

Every fetch goes through one rule (`Catalog.cached`): a cached copy younger than `[defaults] catalog_ttl`
is used as is; else it is fetched (`refresh=True` always fetches) and written back; when the provider
cannot be reached, an older copy stands in, with a one-line notice. Notices and progress go to callbacks:
the core never prints. What is fetched from each provider lives in `genctl.providers.sources`.

Pages: fal's `/models` cursor is opaque (it "encodes the page number", fal-api.md §3.1) and Replicate's
`next` is a URL (replicate-api.md §3.1), so the pages of one listing come one after the other; what *can*
run at once does: the two providers, Replicate's collections, and fal's price batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from genctl import deadline, filelock, paths
from genctl.catalog.cache import DiskCache
from genctl.errors import GenctlError, RateLimitError, UnavailableError, error
from genctl.http import RetryPolicy, send
from genctl.providers import registry
from genctl.providers.factory import get_provider
from genctl.providers.fal_catalog import PAGE_SIZE
from genctl.providers.sources import SOURCES, ModelDetail, NotCached, Source, merge_same

if TYPE_CHECKING:
    import httpx

    from genctl.providers.base import ModelInfo, Price, Provider
    from genctl.settings import Settings
    from genctl.values import HttpRequest, Key

__all__ = ["Catalog", "Listing", "ModelDetail", "NotCached"]

T = TypeVar("T")
DEFAULT_POLICY = RetryPolicy(max_attempts=3, base_delay=0.5, max_wait=5.0)
ONE_TRY = RetryPolicy(max_attempts=1)  # a cached copy is waiting: don't make the user wait for retries
log = logging.getLogger("genctl.catalog")


@dataclass(frozen=True)
class Listing:
    """What `genctl models` shows: the merged models (after --limit) and how many matched in all."""

    models: list[ModelInfo]
    total: int


class Catalog:
    """Both providers' catalogues for one invocation: one httpx client, one cache folder, one key each."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        keys: Mapping[str, Key | None] | None = None,
        refresh: bool = False,
        cache_only: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy = DEFAULT_POLICY,
        on_notice: Callable[[str], None] | None = None,
        on_progress: Callable[[str, int, int | None], None] | None = None,
        page_size: int = PAGE_SIZE,
        cache_root: Path | None = None,
    ) -> None:

        if client is None and not cache_only:
            raise ValueError("a Catalog that may fetch needs an httpx client")
        self.settings, self.client = settings, client
        self.keys: Mapping[str, Key | None] = (
            keys if keys is not None else {p: _first_key(settings, p) for p in registry.NAMES}
        )
        self.refresh, self.cache_only, self.clock, self.sleep = refresh, cache_only, clock, sleep
        self.policy, self.page_size = policy, page_size
        self._on_progress = on_progress
        self._on_notice = on_notice
        self._said: set[str] = set()
        self._lock = threading.Lock()
        self.cache = DiskCache(cache_root or paths.cache_dir() / "catalog", on_notice=self.notify)
        self.providers: dict[str, Provider] = {
            p: get_provider(p, settings.providers[p]) for p in registry.NAMES
        }
        self.urls = {p: settings.providers[p].urls["api_url"].rstrip("/") for p in registry.NAMES}
        self.sources: dict[str, Source] = {p: SOURCES[p](self) for p in registry.NAMES}

    # -- plumbing (the `Fetcher` protocol of genctl.providers.sources) ---------------------------------------

    def notify(self, message: str) -> None:
        """Pass a notice on, once (threads may hit the same one)."""
        with self._lock:
            if message in self._said:
                return
            self._said.add(message)
        if self._on_notice is not None:
            self._on_notice(message)

    def progress(self, what: str, done: int, total: int | None) -> None:
        if self._on_progress is not None:
            self._on_progress(what, done, total)

    def cached(
        self,
        provider: str,
        name: str,
        fetch: Callable[[RetryPolicy], Any],
        load: Callable[[Any], T],
        *,
        peek: bool = False,
    ) -> T:
        """The one cache rule (module docstring). `fetch` returns JSON-able data, or None: not cached.

        `peek` (like a cache-only catalogue) takes any cached copy and raises NotCached without one.
        """
        cache_only = self.cache_only or peek
        source = self.cache_source(provider)
        path = self.cache.path(provider, source, name)
        hit = self._hit(path, load)
        if hit is not None and (cache_only or (not self.refresh and self._fresh(hit[1]))):
            return hit[0]
        if cache_only:
            raise NotCached(name)
        with self._turn(path, name):
            if not self.refresh:  # fetched by another thread while this one waited its turn
                hit = self._hit(path, load) or hit
                if hit is not None and self._fresh(hit[1]):
                    return hit[0]
            try:
                data = fetch(ONE_TRY if hit is not None else self.policy)
            except (UnavailableError, RateLimitError) as err:
                if hit is None:
                    raise
                minutes = max(0.0, self.clock() - hit[1]) / 60
                age = f"{minutes / 60:.0f} h" if minutes >= 60 else f"{minutes:.0f} min"
                label = registry.label(provider)
                self.notify(f"{label} unreachable ({err.code}): using the catalogue cached {age} ago.")
                return hit[0]
            if data is not None:
                self.cache.write(path, source=source, name=name, data=data, now=self.clock())
        return load(data)

    @contextmanager
    def _turn(self, path: Path, name: str) -> Iterator[None]:
        """One fetch of a cache file at a time in this process: a batch's first workers all miss the same
        model's schema, and one fetch serves them all (the others read what it wrote)."""
        with ExitStack() as stack:
            try:
                stack.enter_context(filelock.turn(path))
            except filelock.Busy:  # only --timeout ends the wait
                raise deadline.passed(
                    f"waiting for another thread to fetch the catalogue's {name!r}"
                ) from None
            yield

    def _hit(self, path: Path, load: Callable[[Any], T]) -> tuple[T, float] | None:
        """The cached value at `path` and when it was fetched, or None (a file `load` rejects is dropped)."""
        entry = self.cache.read(path)
        if entry is None:
            return None
        try:
            return load(entry.data), entry.fetched_at
        except (KeyError, TypeError, ValueError, AttributeError):
            self.cache.discard(path)
            return None

    def cache_source(self, provider: str) -> str:
        """What names the provider's cache folder: its API URL, or `catalog_cache` (--sandbox)."""
        return self.settings.catalog_cache or self.urls[provider]

    def _fresh(self, fetched_at: float) -> bool:
        return 0 <= self.clock() - fetched_at < self.settings.catalog_ttl

    def send(
        self,
        provider: str,
        request: HttpRequest,
        policy: RetryPolicy,
        *,
        key: Key | None,
        model: str | None = None,
    ) -> httpx.Response:
        """A 2xx response, else the provider's own GenctlError for it (`error_from_response`)."""
        assert self.client is not None
        response = send(self.client, request, policy=policy, sleep=self.sleep, provider=provider)
        if response.status_code >= 400:
            raise self.providers[provider].error_from_response(response, model=model, key=key)
        return response

    def require_key(self, provider: str, what: str) -> Key:
        key = self.keys.get(provider)
        if key is None:
            raise error(
                "key.missing",
                f"{registry.label(provider)} needs a key to {what}.",
                fix=f"Set {registry.info(provider).key_env}; `genctl models QUERY` searches without one.",
                provider=provider,
            )
        return key

    # -- what commands ask ---------------------------------------------------------------------------

    def cached_ids(self, provider: str) -> list[str]:
        """Every model id in the provider's cached documents (listings, searches, look-ups), sorted; no
        request, whatever the cache holds (shell completion of `-m`)."""
        found: set[str] = set()
        for entry in self.cache.entries(provider, self.cache_source(provider)):
            data = entry.data if isinstance(entry.data, dict) else {}
            models = data.get("models")  # a listing, as providers.sources.dump writes it
            for item in models if isinstance(models, list) else []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    found.add(item["id"])
            if isinstance(data.get("owner"), str) and isinstance(data.get("name"), str):
                found.add(f"{data['owner']}/{data['name']}")  # a Replicate model object
        return sorted(found)

    def find(self, model_id: str, provider: str) -> ModelDetail | None:
        """The model and its input schema; None when the provider's catalogue has no such model."""
        return self.sources[provider].find(model_id)

    def all_models(self, provider: str) -> list[ModelInfo]:
        """A provider's whole catalogue (Replicate: its collections and newest models; needs a token)."""
        return self.sources[provider].all_models()

    def models(
        self,
        provider: str,
        *,
        query: str | None = None,
        category: str | None = None,
        limit: int | None = None,
    ) -> list[ModelInfo]:
        """One provider's models matching the query and category, in the provider's order."""
        return self.sources[provider].models(query, category, limit)

    def near_ids(self, provider: str, model_id: str) -> list[str]:
        """Ids a mistyped `model_id` most likely meant, from its shape alone (`fal-ai/flux-dev`)."""
        return self.sources[provider].near_ids(model_id)

    def prices(self, provider: str, model_ids: list[str]) -> dict[str, Price]:
        """List prices of those models where the provider publishes them ({} otherwise)."""
        return self.sources[provider].prices(model_ids)

    def search(
        self,
        *,
        query: str | None = None,
        provider: str | None = None,
        category: str | None = None,
        limit: int | None = 50,
    ) -> Listing:
        """Both providers at once, merged: interleaved by rank for a query, else sorted by category and id.

        Without `provider`, one that fails (no Replicate token for a listing; offline with nothing cached)
        is left out with a notice rather than failing the whole listing.
        """
        names = [provider] if provider else list(registry.NAMES)
        results: dict[str, list[ModelInfo]] = {}
        failures: list[GenctlError] = []
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {
                p: pool.submit(deadline.carried(self.models), p, query=query, category=category, limit=limit)
                for p in names
            }
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except GenctlError as err:
                    if provider:
                        raise
                    failures.append(err)
                    self.notify(f"{registry.label(name)} left out: {err.message} {err.fix}")
        if not results and failures:
            raise failures[0]
        if query:
            merged = [m for rank in _ranks(*results.values()) for m in rank]
        else:
            everything = (m for found in results.values() for m in found)
            merged = sorted(everything, key=lambda m: (m.category or "~", m.id))
        merged = [m for m in merge_same(merged) if m.kind != "text"]  # genctl cannot run text models
        shown = merged[:limit] if limit else merged
        prices: dict[tuple[str, str], Price] = {}
        for name, source in self.sources.items():
            found_prices = source.prices([m.id for m in shown if m.provider == name])
            prices.update({(name, model_id): price for model_id, price in found_prices.items()})
        return Listing(
            models=[replace(m, price=prices.get((m.provider, m.id), m.price)) for m in shown],
            total=len(merged),
        )

    def categories(self) -> list[str]:
        """Categories known at run time: fal's metadata.category values and Replicate's collection slugs."""
        return sorted(set().union(*(source.categories() for source in self.sources.values())))

    def candidates(self, provider: str, hint: str, *, whole: bool = True) -> list[ModelInfo]:
        """Models a did-you-mean may pick from, as cheaply as they can be had: a whole catalogue already
        cached; else a search (fal: for the first word of `hint`, one or two pages; Replicate: one request,
        no token); else, when `whole`, the whole catalogue (fal: every page; Replicate: its collections)."""
        try:
            return merge_same(self.sources[provider].candidates(hint, whole=whole))
        except (GenctlError, NotCached) as err:
            log.debug("no %s candidates: %s", provider, err)
            return []


def _ranks(*lists: list[ModelInfo]) -> Iterable[list[ModelInfo]]:
    """Each provider's first result, then each one's second, …"""
    for index in range(max((len(x) for x in lists), default=0)):
        yield [x[index] for x in lists if index < len(x)]


def _first_key(settings: Settings, provider: str) -> Key | None:
    keys = settings.providers[provider].keys
    return keys[0] if keys else None
