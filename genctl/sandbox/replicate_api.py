"""Replicate routing, plus the catalogue endpoints: account, models, versions, search, collections, files."""

from __future__ import annotations

from collections.abc import Callable

from genctl.sandbox import replicate, replicate_files, replicate_stream
from genctl.sandbox.catalog import (
    Json,
    ReplicateModel,
    ReplicateVersion,
    collections,
    replicate_model,
    replicate_models,
)
from genctl.sandbox.keys import KeyInfo
from genctl.sandbox.replicate_common import bad_query, page
from genctl.sandbox.state import Context
from genctl.sandbox.wire import Request, Response, json_response, problem

MODELS_PAGE = 5  # small on purpose, so clients exercise `next` (UNVERIFIED: the real page size)
HARDWARE = [  # exactly the recorded list (hardware-list.yaml)
    {"sku": "cpu", "name": "CPU"},
    {"sku": "gpu-t4", "name": "Nvidia T4 GPU"},
    {"sku": "gpu-a40-small", "name": "Nvidia A40 GPU"},
    {"sku": "gpu-a40-large", "name": "Nvidia A40 (Large) GPU"},
]

Route = Callable[[Request, Context, KeyInfo, list[str]], Response]


def handle(req: Request, ctx: Context) -> Response:
    """Route a /replicate request and stamp the rate-limit headers real responses carry (§1.8)."""
    response = _route(req, ctx)
    creating = req.method == "POST" and req.sub.endswith("/predictions")
    response.headers.setdefault("ratelimit-remaining", "599" if creating else "2999")
    response.headers.setdefault("ratelimit-reset", "1")
    return response


def _route(req: Request, ctx: Context) -> Response:
    path = req.sub.rstrip("/")
    if path == "":
        return json_response(200, {})  # GET https://api.replicate.com/ is a no-auth connectivity check
    if path.startswith(
        "/p/"
    ):  # the web page a prediction's (absent) urls.web would name; UNVERIFIED: any shape
        return Response(
            200, {"Content-Type": "text/html"}, b"<html><body>sandbox prediction page</body></html>"
        )
    if not path.startswith("/v1/"):
        return problem(404, replicate.NOT_FOUND)
    parts = path[len("/v1/") :].split("/")
    if parts[0] == "search" and req.method == "GET":
        return _search(req)
    info = replicate.authenticate(req, ctx)
    if isinstance(info, Response):
        return info
    route = _ROUTES.get((req.method, _shape(parts)))
    if route is None:
        known = {shape for _, shape in _ROUTES}
        if _shape(parts) in known:
            return problem(405, f'Method "{req.method}" not allowed.')
        return problem(404, replicate.NOT_FOUND)
    return route(req, ctx, info, parts)


def _shape(parts: list[str]) -> str:
    """Collapse ids out of a path for route look-up: models/o/n/versions/v -> models/*/*/versions/*."""
    fixed = {
        "models",
        "predictions",
        "versions",
        "cancel",
        "files",
        "download",
        "collections",
        "account",
        "hardware",
        "streams",
    }
    return "/".join(p if p in fixed else "*" for p in parts)


# --- account, predictions ---------------------------------------------------------------------------------


def _account(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    name = info.account.replace("-", " ").title()
    return json_response(
        200,
        {
            "type": "user",
            "username": info.account,
            "name": name,  # replicate 1.0.7's Account model requires a string here (§2.2)
            "github_url": f"https://github.com/{info.account}",
            "avatar_url": f"{req.base_url}/fal/cdn/thumbnails/{info.account}.png",
        },
    )


def _model_create(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    model = replicate_model(parts[1], parts[2])
    if model is None:
        return problem(404, replicate.NOT_FOUND)
    if not model.official:  # community models need a version (replicate-python#320)
        return replicate.invalid_version()
    return replicate.create(req, ctx, info, path_model=model)


# --- models and versions ----------------------------------------------------------------------------------


def version_json(version: ReplicateVersion) -> Json:
    return {
        "id": version.id,
        "created_at": version.created_at,
        "cog_version": version.cog_version,
        "openapi_schema": version.openapi_schema,
    }


def model_json(req: Request, model: ReplicateModel) -> Json:
    return {
        "url": f"{req.base_url}/replicate/{model.ref}",
        "owner": model.owner,
        "name": model.name,
        "description": model.description,
        "visibility": "public",
        "github_url": model.github_url,
        "paper_url": model.paper_url,
        "license_url": model.license_url,
        "run_count": model.run_count,
        "cover_image_url": f"{req.base_url}/fal/cdn/thumbnails/{model.owner}-{model.name}.png",
        "default_example": None,
        "latest_version": version_json(model.latest),
        "is_official": model.official,
    }


def _models(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    sort_by = req.arg("sort_by") or "latest_version_created_at"
    direction = req.arg("sort_direction") or "desc"
    if sort_by not in ("model_created_at", "latest_version_created_at") or direction not in ("asc", "desc"):
        return bad_query("Invalid sort_by or sort_direction")  # the spec's enums; UNVERIFIED: wording
    # The sandbox's models have no separate creation date: both orders use the latest version's.
    newest = sorted(replicate_models(), key=lambda m: m.latest.created_at, reverse=direction == "desc")
    return page(req, [model_json(req, m) for m in newest], MODELS_PAGE, "models")


def _models_query(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    """The old search: `QUERY /v1/models` with the query as a text/plain body (models-search.yaml).

    UNVERIFIED: how the real search ranks and pages; the sandbox answers one page of substring matches."""
    text = req.body.decode(errors="replace").strip().lower()
    found = [model_json(req, m) for m in replicate_models() if text in _haystack(m)]
    return json_response(200, {"next": None, "previous": None, "results": found})


def _model_get(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    model = replicate_model(parts[1], parts[2])
    if model is None:
        return problem(404, replicate.NOT_FOUND)
    return json_response(200, model_json(req, model))


def _versions(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    model = replicate_model(parts[1], parts[2])
    if model is None:
        return problem(404, replicate.NOT_FOUND)
    path = f"models/{model.ref}/versions"
    return page(req, [version_json(v) for v in model.versions], 100, path)


def _version_get(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    model = replicate_model(parts[1], parts[2])
    version = next((v for v in model.versions if v.id == parts[4]), None) if model else None
    if version is None:
        return problem(404, replicate.NOT_FOUND)
    return json_response(200, version_json(version))


def _haystack(model: ReplicateModel) -> str:
    return " ".join([model.ref, model.description, *model.tags, *model.collections]).lower()


def _search(req: Request) -> Response:
    """GET /v1/search (beta, no auth): models with metadata, matching collections, pages (§3.1)."""
    query = (req.arg("query") or "").strip()
    if not query:
        return bad_query('Query parameter "query" is required')  # the spec's 400, application/json
    raw_limit = req.arg("limit") or "20"
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= 50:
        return bad_query('Query parameter "limit" must be an integer between 1 and 50')  # UNVERIFIED: text
    words = query.lower().split()
    scored = []
    for model in replicate_models():
        hay = _haystack(model)
        score = sum(hay.count(w) for w in words)
        if score:
            scored.append((score, model))
    scored.sort(key=lambda pair: (-pair[0], pair[1].ref))
    models = [
        {
            "model": model_json(req, model),
            "metadata": {
                "generated_description": model.description,
                "tags": list(model.tags),
                "score": float(score),
            },
        }
        for score, model in scored[:limit]
    ]
    refs = {m.ref for _, m in scored}
    found = [
        {"name": c.name, "slug": c.slug, "description": c.description, "models": list(c.models)}
        for c in collections()
        if refs & set(c.models) or any(w in c.slug for w in words)
    ]
    # UNVERIFIED: scoring and which collections match; the shape is the spec's example.
    return json_response(200, {"query": query, "models": models, "collections": found, "pages": []})


def _collections(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    items: list[Json] = [
        {"name": c.name, "slug": c.slug, "description": c.description} for c in collections()
    ]
    return page(req, items, 100, "collections")


def _collection_get(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    found = next((c for c in collections() if c.slug == parts[1]), None)
    if found is None:
        return problem(404, replicate.NOT_FOUND)
    models = [replicate_model(*ref.split("/", 1)) for ref in found.models]
    return json_response(
        200,
        {
            "name": found.name,
            "slug": found.slug,
            "description": found.description,
            "full_description": found.description,
            "models": [model_json(req, m) for m in models if m is not None],
        },
    )


def _stream(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    job = ctx.store.job(parts[1])
    if job is None or job.provider != "replicate" or job.account != info.account:
        return problem(404, replicate.NOT_FOUND)
    return replicate_stream.stream(req, ctx, job)


_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "account"): _account,
    ("GET", "hardware"): lambda req, ctx, info, parts: json_response(200, HARDWARE),
    ("POST", "predictions"): lambda req, ctx, info, parts: replicate.create(req, ctx, info, path_model=None),
    ("GET", "predictions"): lambda req, ctx, info, parts: replicate.listing(req, ctx, info),
    ("GET", "predictions/*"): lambda req, ctx, info, parts: replicate.get(req, ctx, info, parts[1]),
    ("POST", "predictions/*/cancel"): lambda req, ctx, info, parts: replicate.cancel(
        req, ctx, info, parts[1]
    ),
    ("GET", "models"): _models,
    ("QUERY", "models"): _models_query,
    ("GET", "models/*/*"): _model_get,
    ("POST", "models/*/*/predictions"): _model_create,
    ("GET", "models/*/*/versions"): _versions,
    ("GET", "models/*/*/versions/*"): _version_get,
    ("GET", "collections"): _collections,
    ("GET", "collections/*"): _collection_get,
    ("POST", "files"): replicate_files.file_create,
    ("GET", "files"): replicate_files.files,
    ("GET", "files/*"): replicate_files.file_get,
    ("DELETE", "files/*"): replicate_files.file_delete,
    ("GET", "files/*/download"): replicate_files.file_download,
    ("GET", "streams/*"): _stream,
}
