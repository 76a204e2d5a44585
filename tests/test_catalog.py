"""The catalogue at its API (genctl.catalog) against the sandbox: cache hits, TTL, refresh, offline, corrupt
files, pagination, merging, and what a cache file may hold."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from genctl import deadline
from genctl.catalog import Catalog, NotCached
from genctl.config import load_settings
from genctl.errors import GenctlError
from genctl.sandbox import Fault, Sandbox
from genctl.sandbox.catalog import fal_models
from genctl.sandbox.catalog_replicate import SDXL_VERSION
from genctl.sandbox.keys import FAL_KEY_OK, REPLICATE_TOKEN_OK
from genctl.settings import Settings
from tests.support import Clock

DAY = 86400.0


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def settings_for(box: Sandbox, **env: str) -> Settings:
    return load_settings(env={**os.environ, **box.env(), **env})


def catalog_for(box: Sandbox, http: httpx.Client, tmp_path: Path, **kwargs: object) -> Catalog:
    env = {"FAL_KEY": FAL_KEY_OK, "REPLICATE_API_TOKEN": REPLICATE_TOKEN_OK}
    settings = kwargs.pop("settings", None) or settings_for(box, **env)
    sleeps: list[float] = []
    return Catalog(
        settings,  # type: ignore[arg-type]
        client=http,
        cache_root=tmp_path / "cache",
        sleep=sleeps.append,
        **kwargs,  # type: ignore[arg-type]
    )


def test_cache_hit_sends_nothing(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    first = catalog_for(sandbox, http, tmp_path).sources["fal"].all_models()
    assert sandbox.count(r"/fal/api/v1/models$") == 1
    again = catalog_for(sandbox, http, tmp_path).sources["fal"].all_models()
    assert again == first
    assert sandbox.count(r"/fal/api/v1/models$") == 1


def test_threads_missing_the_same_schema_fetch_it_once(
    sandbox: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    """A batch's first workers each build their own Catalog and all miss the model's schema at once: one
    fetch serves them (before: one request per worker, 4 with 4 keys at --concurrency 32)."""
    sandbox.inject(Fault.slow(0.3, path=r"/fal/api/v1/models$", times=1))  # the others arrive meanwhile
    found: list[object] = []
    start = threading.Barrier(8)

    def worker() -> None:
        catalog = catalog_for(sandbox, http, tmp_path)
        start.wait()
        found.append(catalog.find("fal-ai/flux/dev", "fal"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(found) == 8 and all(detail == found[0] for detail in found) and found[0] is not None
    assert sandbox.count(r"/fal/api/v1/models$") == 1


def test_a_thread_waiting_for_a_hung_fetch_ends_at_its_timeout(
    sandbox: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    """The fetch it waits for hangs: the waiter's --timeout ends its wait (a timeout error naming the
    wait), while the first fetch is still in flight."""
    sandbox.inject(Fault.slow(3.0, path=r"/fal/api/v1/models$", times=1))
    first: list[object] = []
    sent = threading.Event()
    hooked = httpx.Client(timeout=10, event_hooks={"request": [lambda request: sent.set()]})

    def fetch_first() -> None:
        with hooked:
            first.append(catalog_for(sandbox, hooked, tmp_path).find("fal-ai/flux/dev", "fal"))

    fetching = threading.Thread(target=fetch_first)
    fetching.start()
    assert sent.wait(10)  # the first fetch is on the wire, its turn taken
    with (
        deadline.limit(0.2, "the 0.2 s deadline (--timeout)", command=True),
        pytest.raises(GenctlError) as waited,
    ):
        catalog_for(sandbox, http, tmp_path).find("fal-ai/flux/dev", "fal")
    assert first == [] and fetching.is_alive()  # it did not wait for the hung fetch
    assert waited.value.code == "generation.timeout"
    assert (
        "waiting for another thread to fetch the catalogue's 'schema fal-ai/flux/dev'" in waited.value.message
    )
    fetching.join(timeout=20)
    assert first and first[0] is not None and sandbox.count(r"/fal/api/v1/models$") == 1


def test_ttl_expiry_fetches_again(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    clock = Clock(1_800_000_000.0)
    catalog_for(sandbox, http, tmp_path, clock=clock).find("fal-ai/flux/dev", "fal")
    clock.now += DAY - 1
    catalog_for(sandbox, http, tmp_path, clock=clock).find("fal-ai/flux/dev", "fal")
    assert sandbox.count(r"/fal/api/v1/models$") == 1  # still fresh
    clock.now += 2
    detail = catalog_for(sandbox, http, tmp_path, clock=clock).find("fal-ai/flux/dev", "fal")
    assert detail is not None and detail.schema is not None
    assert sandbox.count(r"/fal/api/v1/models$") == 2


def test_ttl_comes_from_the_config(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[defaults]\ncatalog_ttl = 60\n")
    settings = settings_for(sandbox, GENCTL_CONFIG=str(config))
    assert settings.catalog_ttl == 60
    clock = Clock(1_800_000_000.0)
    catalog_for(sandbox, http, tmp_path, clock=clock, settings=settings).sources["fal"].all_models()
    clock.now += 61
    catalog_for(sandbox, http, tmp_path, clock=clock, settings=settings).sources["fal"].all_models()
    assert sandbox.count(r"/fal/api/v1/models$") == 2


def test_refresh_bypasses_a_fresh_cache(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    catalog_for(sandbox, http, tmp_path).sources["fal"].all_models()
    catalog_for(sandbox, http, tmp_path, refresh=True).sources["fal"].all_models()
    assert sandbox.count(r"/fal/api/v1/models$") == 2


def test_offline_uses_the_stale_copy_with_one_notice(http: httpx.Client, tmp_path: Path) -> None:
    clock, notices = Clock(1_800_000_000.0), []
    with Sandbox() as box:
        settings = settings_for(box)
        fresh = catalog_for(box, http, tmp_path, clock=clock, settings=settings).sources["fal"].all_models()
    clock.now += 2 * DAY  # stale, and the sandbox's port is closed now
    catalog = catalog_for(box, http, tmp_path, clock=clock, settings=settings, on_notice=notices.append)
    assert catalog.sources["fal"].all_models() == fresh
    assert catalog.sources["fal"].all_models() == fresh
    assert notices == ["fal.ai unreachable (network.connect): using the catalogue cached 48 h ago."]


def test_offline_without_a_cache_is_the_network_error(http: httpx.Client, tmp_path: Path) -> None:
    with Sandbox() as box:
        settings = settings_for(box)
    sleeps: list[float] = []
    catalog = Catalog(settings, client=http, cache_root=tmp_path / "cache", sleep=sleeps.append)
    with pytest.raises(Exception) as caught:
        catalog.sources["fal"].all_models()
    assert getattr(caught.value, "code", None) == "network.connect"
    assert len(sleeps) == 2  # three tries, never a real sleep


def test_a_corrupt_cache_file_is_discarded_and_fetched_again(
    sandbox: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    catalog_for(sandbox, http, tmp_path).sources["fal"].all_models()
    [path] = (tmp_path / "cache").rglob("models-*.json")
    for garbage in (b"{not json", b'{"genctl_cache": 1, "fetched_at": 1, "data": {"models": [{"x": 1}]}}'):
        path.write_bytes(garbage)
        notices: list[str] = []
        models = catalog_for(sandbox, http, tmp_path, on_notice=notices.append).sources["fal"].all_models()
        assert len(models) == len(fal_models())
        assert notices == [f"Discarded the unreadable cache file {path}; fetching it again."]
        assert json.loads(path.read_text())["genctl_cache"] == 1
    assert sandbox.count(r"/fal/api/v1/models$") == 3


def test_cache_files_are_atomic_json_and_hold_no_key(
    sandbox: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    catalog = catalog_for(sandbox, http, tmp_path)
    catalog.search(limit=None)
    catalog.find("stability-ai/sdxl", "replicate")
    catalog.find("fal-ai/flux/dev", "fal")
    files = list((tmp_path / "cache").rglob("*"))
    assert not [f for f in files if f.name.endswith(".tmp")]
    documents = [f for f in files if f.is_file()]
    assert len(documents) >= 8
    for document in documents:
        text = document.read_text()
        assert (
            FAL_KEY_OK not in text and FAL_KEY_OK.split(":")[1] not in text and REPLICATE_TOKEN_OK not in text
        )
        doc = json.loads(text)
        assert set(doc) == {"genctl_cache", "name", "source", "fetched_at", "data"}
        assert doc["source"].startswith(sandbox.url)
        assert oct(document.stat().st_mode & 0o777) == "0o600"


def test_each_api_url_has_its_own_cache(http: httpx.Client, tmp_path: Path) -> None:
    with Sandbox() as one, Sandbox() as two:
        catalog_for(one, http, tmp_path).sources["fal"].all_models()
        catalog_for(two, http, tmp_path).sources["fal"].all_models()
        assert (one.count(r"/models$"), two.count(r"/models$")) == (1, 1)
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_cache_only_never_fetches(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = settings_for(sandbox)
    catalog = Catalog(settings, cache_only=True, cache_root=tmp_path / "cache")
    with pytest.raises(NotCached):
        catalog.find("fal-ai/flux/dev", "fal")
    assert sandbox.requests == []


def test_fal_pages_follow_the_cursor(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    progress: list[tuple[str, int, int | None]] = []
    catalog = catalog_for(sandbox, http, tmp_path, page_size=5, on_progress=lambda *a: progress.append(a))
    models = catalog.sources["fal"].all_models()
    assert [m.id for m in models] == [m.endpoint_id for m in fal_models()]
    assert sandbox.count(r"/fal/api/v1/models$") == 4  # 17 models, 5 a page
    assert [q for q in (r.query for r in sandbox.requests) if "cursor" in q] != []
    assert progress == [("fal.ai catalogue pages", n, None) for n in (1, 2, 3, 4)]


def test_fal_search_stops_at_the_limit(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    found = catalog_for(sandbox, http, tmp_path, page_size=2).sources["fal"].search("flux", None, 3)
    assert len(found) == 3
    assert sandbox.count(r"/fal/api/v1/models$") == 2


def test_replicate_collections_at_once_and_the_feed_paged(
    sandbox: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    progress: list[tuple[str, int, int | None]] = []
    catalog = catalog_for(sandbox, http, tmp_path, on_progress=lambda *a: progress.append(a))
    models = {m.id: m for m in catalog.sources["replicate"].all_models()}
    assert sandbox.count(r"/replicate/v1/collections/") == 5
    assert sandbox.count(r"/replicate/v1/models$") == 3  # 15 models, 5 a page: `next` followed
    assert models["stability-ai/sdxl"].category == "text-to-image"
    assert models["stability-ai/sdxl"].is_official is False
    assert models["stability-ai/sdxl"].latest_version == SDXL_VERSION
    assert models["meta/meta-llama-3-8b-instruct"].kind == "text"
    assert sorted(p[1] for p in progress if p[0] == "Replicate collections") == [1, 2, 3, 4, 5]


def test_search_merges_both_providers_by_rank(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    listing = catalog_for(sandbox, http, tmp_path).search(query="flux", limit=4)
    assert [m.provider for m in listing.models] == ["fal", "replicate", "fal", "replicate"]
    assert listing.total > 4
    assert all(m.price is not None for m in listing.models if m.provider == "fal")  # a key: prices


def test_listing_leaves_out_text_models(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    listing = catalog_for(sandbox, http, tmp_path).search(limit=None)
    ids = {m.id for m in listing.models}
    assert "meta/meta-llama-3-8b-instruct" not in ids
    assert {"fal-ai/flux/dev", "black-forest-labs/flux-dev", "stability-ai/sdxl"} <= ids


def test_categories_are_collected_at_run_time(sandbox: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    categories = catalog_for(sandbox, http, tmp_path).categories()
    assert {"text-to-image", "text-to-video", "text-to-speech", "language-models"} <= set(categories)


def test_replicate_version_schema_and_unknown_version(
    sandbox: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    catalog = catalog_for(sandbox, http, tmp_path)
    detail = catalog.find(f"stability-ai/sdxl:{SDXL_VERSION}", "replicate")
    assert detail is not None and detail.version == SDXL_VERSION and detail.schema is not None
    with pytest.raises(Exception) as caught:
        catalog.find("stability-ai/sdxl:" + "0" * 64, "replicate")
    assert getattr(caught.value, "code", None) == "model.not_found"
    assert catalog.find("nobody/nothing", "replicate") is None
    assert catalog.find("fal-ai/flux-dev", "fal") is None


def test_a_bad_fal_key_does_not_block_the_catalogue(
    sandbox: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    from genctl.sandbox.keys import FAL_KEY_UNKNOWN

    settings = settings_for(sandbox, FAL_KEY=FAL_KEY_UNKNOWN)
    detail = catalog_for(sandbox, http, tmp_path, settings=settings).find("fal-ai/flux/dev", "fal")
    assert detail is not None  # 401 with the key, then the same request without it (auth is optional)
    assert [r.status for r in sandbox.requests] == [401, 200]


def test_a_token_in_the_api_url_never_reaches_the_cache(tmp_path: Path) -> None:
    from genctl.catalog.cache import DiskCache

    cache = DiskCache(tmp_path)
    source = "https://me:s3cr3t-token@gateway.example:8443/v1?api_key=k3y"
    path = cache.path("fal", source, "models")
    cache.write(path, source=source, name="models", data={"models": []}, now=1.0)
    assert "s3cr3t" not in str(path) and "k3y" not in str(path)
    text = path.read_text()
    assert "s3cr3t" not in text and "k3y" not in text
    assert json.loads(text)["source"] == "https://gateway.example:8443/v1"
    assert cache.read(path) is not None


def test_old_api_url_folders_are_pruned(tmp_path: Path) -> None:
    # Every API URL (a sandbox served on many ports, a gateway per job) has its own folder: the newest
    # MAX_SOURCES stay.
    from genctl.catalog.cache import MAX_SOURCES, DiskCache

    cache = DiskCache(tmp_path)
    for port in range(MAX_SOURCES + 3):
        source = f"http://127.0.0.1:{40000 + port}/fal/api/v1"
        cache.write(cache.path("fal", source, "models"), source=source, name="models", data={}, now=1.0)
        folder = cache.path("fal", source, "models").parent
        os.utime(folder, (port, port))  # oldest first, whatever the file system's clock resolution
    kept = {p.name for p in tmp_path.iterdir()}
    assert len(kept) == MAX_SOURCES
    assert folder.name in kept  # the newest stays
