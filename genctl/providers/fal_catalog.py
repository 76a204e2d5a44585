"""fal's platform API for model discovery (fal-api.md §3): request builders and response parsers, pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from genctl.providers._common import json_object, malformed, str_or_none
from genctl.providers.base import ModelInfo, Price, category_kind
from genctl.values import HttpRequest

if TYPE_CHECKING:
    import httpx

    from genctl.values import Key

# `limit` per page: "actual maximum depends on query type and expansion" (§3.1). 100 is the sandbox's
# maximum; whether the real API allows as many is unverified, and it answers with fewer if not.
PAGE_SIZE = 100
MAX_IDS = 50  # endpoint_id values per Find or pricing call (§3.1, §3.2)


def _headers(key: Key | None) -> dict[str, str]:
    # Auth is optional on /models ("a key grants higher rate limits", §3.1) and required on /pricing.
    headers = {"Accept": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Key {key.sendable()}"
    return headers


def models_request(
    api_url: str,
    *,
    key: Key | None = None,
    q: str | None = None,
    category: str | None = None,
    status: str | None = None,
    endpoint_ids: Sequence[str] = (),
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    expand_openapi: bool = False,
) -> HttpRequest:
    """`GET {api_url}/models`: List (no filter), Find (`endpoint_ids`), Search (`q`, `category`, `status`)."""
    # Built into the URL by hand: Find repeats `endpoint_id` (?endpoint_id=a&endpoint_id=b, §3.1).
    query: list[tuple[str, str]] = [("limit", str(limit))]
    query += [("endpoint_id", eid) for eid in endpoint_ids]
    for name, value in (("q", q), ("category", category), ("status", status), ("cursor", cursor)):
        if value:
            query.append((name, value))
    if expand_openapi:
        query.append(("expand", "openapi-3.0"))
    url = f"{api_url.rstrip('/')}/models?{urlencode(query)}"
    return HttpRequest("GET", url, headers=_headers(key), idempotent=True)


def pricing_request(api_url: str, endpoint_ids: Sequence[str], *, key: Key) -> HttpRequest:
    """`GET {api_url}/models/pricing?endpoint_id=…` (1-50 ids; needs a key, §3.2)."""
    query = urlencode([("endpoint_id", eid) for eid in endpoint_ids[:MAX_IDS]])
    url = f"{api_url.rstrip('/')}/models/pricing?{query}"
    return HttpRequest("GET", url, headers=_headers(key), idempotent=True)


@dataclass(frozen=True)
class ModelsPage:
    """One page of `GET /models`: the models, the cursor of the next page, and any inlined OpenAPI docs."""

    models: list[ModelInfo]
    next_cursor: str | None
    openapi: dict[str, Any] = field(default_factory=dict)  # endpoint_id -> OpenAPI document


def parse_models_page(response: httpx.Response) -> ModelsPage:
    """`{"models": [{endpoint_id, metadata, openapi?}], "next_cursor", "has_more"}` (§3.1)."""
    body = json_object("fal", response, "models")
    items = body.get("models")
    if not isinstance(items, list):
        raise malformed("fal", response, "the models answer has no models list")
    models: list[ModelInfo] = []
    openapi: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not str_or_none(item.get("endpoint_id")):
            continue
        models.append(model_info(item))
        if isinstance(item.get("openapi"), dict):
            openapi[item["endpoint_id"]] = item["openapi"]
    cursor = str_or_none(body.get("next_cursor")) if body.get("has_more") is not False else None
    return ModelsPage(models=models, next_cursor=cursor, openapi=openapi)


def model_info(item: dict[str, Any]) -> ModelInfo:
    """A ModelInfo from one `models[]` item (its `metadata` keys per the platform spec, §3.1)."""
    meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    endpoint_id = str(item["endpoint_id"])
    category = str_or_none(meta.get("category"))
    tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
    return ModelInfo(
        id=endpoint_id,
        provider="fal",
        category=category,
        display_name=str_or_none(meta.get("display_name")) or endpoint_id,
        description=" ".join(str(meta.get("description") or "").split()),
        kind=category_kind(category),
        status=str_or_none(meta.get("status")),
        url=f"https://fal.ai/models/{endpoint_id}",
        tags=tuple(str(t) for t in tags or ()),
    )


def input_schema(openapi: Any, endpoint_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the Input component, all components) of an endpoint's OpenAPI document (§3.3), or None.

    The Input is what the submit POST's requestBody refers to; failing that, the one component whose
    name ends in `Input` (the sandbox's component names, like FluxDevInput, are unverified).
    """
    if not isinstance(openapi, dict):
        return None
    components = openapi.get("components", {}).get("schemas")
    if not isinstance(components, dict):
        return None
    post = (openapi.get("paths") or {}).get(f"/{endpoint_id.strip('/')}", {}).get("post", {})
    content = (post.get("requestBody") or {}).get("content", {}).get("application/json", {})
    ref = (content.get("schema") or {}).get("$ref")
    name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None
    if name not in components:
        inputs = [n for n in components if n.endswith("Input")]
        name = inputs[0] if len(inputs) == 1 else None
    if name is None or not isinstance(components[name], dict):
        return None
    return components[name], components


def parse_pricing(response: httpx.Response) -> dict[str, Price]:
    """`{"prices": [{endpoint_id, unit_price, unit, currency}]}` (§3.2) as endpoint_id -> Price."""
    body = json_object("fal", response, "pricing")
    prices: dict[str, Price] = {}
    for item in body.get("prices") or ():
        if not isinstance(item, dict):
            continue
        amount, eid = item.get("unit_price"), str_or_none(item.get("endpoint_id"))
        if eid and isinstance(amount, int | float) and not isinstance(amount, bool):
            unit = str_or_none(item.get("unit")) or "call"
            prices[eid] = Price(float(amount), unit, str_or_none(item.get("currency")) or "USD")
    return prices
