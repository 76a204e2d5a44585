"""Replicate's models, versions, search and collections (replicate-api.md §3): requests and parsers, pure."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from genctl.http import same_host
from genctl.providers._common import json_object, malformed, str_or_none
from genctl.providers.base import ModelInfo, category_kind
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.values import Key

SEARCH_LIMIT = 50  # the API's maximum (§3.1: 1..50, default 20)
_CATEGORY_TAG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*-to-[a-z0-9]+$")


def _key_for(next_url: str | None, api_url: str, key: Key | None) -> Key | None:
    # A `next` page on another host than the configured API's is fetched without the key.
    return key if next_url is None or same_host(next_url, api_url) else None


def _get(url: str, key: Key | None) -> HttpRequest:
    headers = {"Accept": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key.sendable()}"
    return HttpRequest("GET", url, headers=headers, idempotent=True)


def model_request(api_url: str, owner: str, name: str, *, key: Key | None) -> HttpRequest:
    """`GET /models/{owner}/{name}`: the model object with `latest_version` and `is_official` (§3.1)."""
    return _get(f"{api_url.rstrip('/')}/models/{quote(owner)}/{quote(name)}", key)


def version_request(api_url: str, owner: str, name: str, version: str, *, key: Key | None) -> HttpRequest:
    """`GET /models/{owner}/{name}/versions/{id}`: one version with its `openapi_schema`."""
    base = f"{api_url.rstrip('/')}/models/{quote(owner)}/{quote(name)}"
    return _get(f"{base}/versions/{quote(version)}", key)


def models_page_request(api_url: str, *, key: Key | None, next_url: str | None = None) -> HttpRequest:
    """`GET /models`, or the absolute `next` URL of the page before (§3.1: cursors are full URLs)."""
    return _get(next_url or f"{api_url.rstrip('/')}/models", _key_for(next_url, api_url, key))


def search_request(api_url: str, query: str, *, limit: int = SEARCH_LIMIT) -> HttpRequest:
    """`GET /search?query=…&limit=…` (beta; declared `security: []`, so no token is sent, §2.2/§3.1)."""
    params = urlencode({"query": query, "limit": max(1, min(limit, SEARCH_LIMIT))})
    return _get(f"{api_url.rstrip('/')}/search?{params}", None)


def collections_request(api_url: str, *, key: Key | None, next_url: str | None = None) -> HttpRequest:
    return _get(next_url or f"{api_url.rstrip('/')}/collections", _key_for(next_url, api_url, key))


def collection_request(api_url: str, slug: str, *, key: Key | None) -> HttpRequest:
    return _get(f"{api_url.rstrip('/')}/collections/{quote(slug)}", key)


# -- responses --------------------------------------------------------------------------------------------


def output_kind(openapi_schema: Any) -> str | None:
    """What a version outputs, read from its `Output` schema: "text" for LLMs, "media" for file URLs.

    A streamed LLM answer is an array of strings with `x-cog-array-display: concatenate` (§3.2); a plain
    string without `format: uri` is text too. None when the schema is absent or says nothing.
    """
    if not isinstance(openapi_schema, dict):
        return None
    output = openapi_schema.get("components", {}).get("schemas", {}).get("Output")
    if not isinstance(output, dict):
        return None
    items = output.get("items") if output.get("type") == "array" else output
    if not isinstance(items, dict):
        return None
    if items.get("format") == "uri":
        return "media"
    if output.get("x-cog-array-display") == "concatenate" or items.get("type") == "string":
        return "text"
    return None


def input_schema(openapi_schema: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(Input, all components) of a version's `openapi_schema` (§3.2), or None when it has none."""
    if not isinstance(openapi_schema, dict):
        return None
    components = openapi_schema.get("components", {}).get("schemas")
    if not isinstance(components, dict) or not isinstance(components.get("Input"), dict):
        return None
    return components["Input"], components


def model_info(body: dict[str, Any], *, category: str | None = None) -> ModelInfo:
    """A ModelInfo from a model object (`url, owner, name, description, latest_version, is_official…`)."""
    owner, name = str(body.get("owner") or ""), str(body.get("name") or "")
    latest = body.get("latest_version") if isinstance(body.get("latest_version"), dict) else None
    kind = category_kind(category)
    if kind is None and latest is not None:
        found = output_kind(latest.get("openapi_schema"))
        kind = "text" if found == "text" else None
    return ModelInfo(
        id=f"{owner}/{name}",
        provider="replicate",
        category=category,
        display_name=name,
        description=" ".join(str(body.get("description") or "").split()),
        kind=kind,
        is_official=body.get("is_official") if isinstance(body.get("is_official"), bool) else None,
        latest_version=str_or_none(latest.get("id")) if latest else None,
        url=f"https://replicate.com/{owner}/{name}",
    )


def model_object(response: httpx.Response) -> dict[str, Any]:
    body = json_object("replicate", response, "model")
    if not str_or_none(body.get("owner")) or not str_or_none(body.get("name")):
        raise malformed("replicate", response, "the answer is not a model object")
    return body


def parse_page(response: httpx.Response, what: str) -> tuple[list[dict[str, Any]], str | None]:
    """`{"next", "previous", "results"}`: the results and the absolute URL of the next page."""
    body = json_object("replicate", response, what)
    results = body.get("results")
    if not isinstance(results, list):
        raise malformed("replicate", response, f"the {what} answer has no results list")
    return [r for r in results if isinstance(r, dict)], str_or_none(body.get("next"))


def parse_models_page(response: httpx.Response) -> tuple[list[ModelInfo], str | None]:
    results, next_url = parse_page(response, "models")
    return [model_info(r) for r in results if r.get("owner") and r.get("name")], next_url


def parse_search(response: httpx.Response) -> list[ModelInfo]:
    """`{"models": [{"model": {…}, "metadata": {"tags", "score"}}], "collections": […]}` (§3.1).

    A model's category is the collection that lists it, else its first `x-to-y` tag.
    """
    body = json_object("replicate", response, "search")
    in_collection: dict[str, str] = {}
    for collection in body.get("collections") or ():
        if isinstance(collection, dict) and str_or_none(collection.get("slug")):
            for ref in collection.get("models") or ():
                in_collection.setdefault(str(ref), collection["slug"])
    found: list[ModelInfo] = []
    for item in body.get("models") or ():
        model = item.get("model") if isinstance(item, dict) else None
        if not isinstance(model, dict) or not model.get("owner") or not model.get("name"):
            continue
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        tags = [str(t) for t in (meta or {}).get("tags") or ()]
        ref = f"{model['owner']}/{model['name']}"
        category = next((t for t in tags if _CATEGORY_TAG.match(t)), None) or in_collection.get(ref)
        info = model_info(model, category=category)
        found.append(_with_tags(info, tags))
    return found


def _with_tags(info: ModelInfo, tags: list[str]) -> ModelInfo:
    kind = info.kind or ("text" if "language-model" in tags or "llm" in tags else None)
    return replace(info, tags=tuple(tags), kind=kind)


def parse_collection(response: httpx.Response) -> tuple[str, list[ModelInfo]]:
    """`GET /collections/{slug}`: `{name, slug, description, models: [model objects]}`."""
    body = json_object("replicate", response, "collection")
    slug = str_or_none(body.get("slug"))
    if slug is None or not isinstance(body.get("models"), list):
        raise malformed("replicate", response, "the answer is not a collection")
    models = [m for m in body["models"] if isinstance(m, dict) and m.get("owner") and m.get("name")]
    return slug, [model_info(m, category=slug) for m in models]


def parse_version(response: httpx.Response) -> dict[str, Any]:
    """A version object `{id, created_at, cog_version, openapi_schema}`."""
    body = json_object("replicate", response, "version")
    if not str_or_none(body.get("id")):
        raise malformed("replicate", response, "the answer is not a version object")
    return {"id": body["id"], "openapi_schema": body.get("openapi_schema")}
