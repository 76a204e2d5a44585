"""fal's non-inference hosts: the platform API (api.fal.ai/v1), storage (rest.fal.ai) and the CDN."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable

from genctl.sandbox import fal, fal_usage
from genctl.sandbox.catalog import FalModel, Json, fal_models, ref
from genctl.sandbox.fal_api_base import next_cursor, page, platform_auth, require_key
from genctl.sandbox.media import MediaSpec
from genctl.sandbox.outputs import media_response
from genctl.sandbox.state import Context, StoredFile, iso
from genctl.sandbox.wire import Request, Response, bearer, fal_detail, fal_platform_error, json_response

# --- api.fal.ai/v1 ----------------------------------------------------------------------------------------


def handle_api(req: Request, ctx: Context) -> Response:
    routes: dict[tuple[str, str], Callable[[Request, Context], Response]] = {
        ("GET", "/models"): _models,
        ("GET", "/models/pricing"): _pricing,
        ("GET", "/account/billing"): _billing,
        **fal_usage.ROUTES,
    }
    path = req.sub.rstrip("/")
    handler = routes.get((req.method, path))
    if handler is None:
        if any(known == path for _, known in routes):
            return fal_platform_error(405, "validation_error", "Method not allowed")  # UNVERIFIED: body
        return fal_platform_error(404, "not_found", "Resource not found")
    return handler(req, ctx)


def _metadata(req: Request, model: FalModel, authed: bool) -> Json:
    """Model metadata keys per the platform spec (fal-api.md §3.1); URLs point at the sandbox."""
    slug = model.endpoint_id.replace("/", "-")
    return {
        "display_name": model.display_name,
        "category": model.category,
        "description": model.description,
        "status": model.status,
        "tags": list(model.tags),
        "updated_at": "2025-01-15T12:00:00Z",
        "is_favorited": False if authed else None,
        "thumbnail_url": f"{req.base_url}/fal/cdn/thumbnails/{slug}.png",
        "model_url": f"{req.base_url}/fal/run/{model.endpoint_id}",
        "date": model.date,
        "highlighted": model.endpoint_id == "fal-ai/flux/dev",
        "pinned": False,
        "kind": "inference",
    }


def openapi_document(req: Request, model: FalModel) -> Json:
    """The per-endpoint queue OpenAPI 3.0 document that `expand=openapi-3.0` inlines (§3.3), shaped like the
    generated one recorded in recordings/fal/seedream_openapi.json: QueueStatus (with `logs` typed as an
    object, as generated, although the docs and SDKs treat it as a list), paths under the full endpoint id, a
    `logs` query parameter on status, and cancel answering 200 `{"success": bool}`.
    UNVERIFIED: `info.description` and the security scheme (the recorded copy has neither).
    """
    eid = model.endpoint_id
    request_path = f"/{eid}/requests/{{request_id}}"
    queue_status: Json = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]},
            "request_id": {"type": "string"},
            "response_url": {"type": "string"},
            "status_url": {"type": "string"},
            "cancel_url": {"type": "string"},
            "logs": {"type": "object", "additionalProperties": True},
            "metrics": {"type": "object", "additionalProperties": True},
            "queue_position": {"type": "integer"},
        },
        "required": ["status", "request_id"],
    }
    cancelled: Json = {
        "type": "object",
        "properties": {
            "success": {"type": "boolean", "description": "Whether the request was cancelled successfully."}
        },
    }
    status_params: list[Json] = [
        {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}},
        {
            "name": "logs",
            "in": "query",
            "required": False,
            "schema": {
                "type": "number",
                "description": "Whether to include logs (`1`) in the response or not (`0`).",
            },
        },
    ]

    def content(name: str) -> Json:
        return {"application/json": {"schema": ref(name)}}

    return {
        "openapi": "3.0.4",
        "info": {
            "title": f"Queue OpenAPI for {eid}",
            "version": "1.0.0",
            "description": model.description,
            "x-fal-metadata": {"endpointId": eid, "category": model.category},
        },
        "components": {
            "securitySchemes": {
                "apiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Fal Key",
                }
            },
            "schemas": {"QueueStatus": queue_status, **model.schemas},
        },
        "paths": {
            f"{request_path}/status": {
                "get": {
                    "parameters": status_params,
                    "responses": {"200": {"content": content("QueueStatus")}},
                }
            },
            f"{request_path}/cancel": {
                "put": {
                    "responses": {
                        "200": {
                            "description": "The request was cancelled.",
                            "content": {"application/json": {"schema": cancelled}},
                        }
                    }
                }
            },
            f"/{eid}": {
                "post": {
                    "requestBody": {"required": True, "content": content(f"{model.schema_prefix}Input")},
                    "responses": {"200": {"content": content("QueueStatus")}},
                }
            },
            request_path: {
                "get": {"responses": {"200": {"content": content(f"{model.schema_prefix}Output")}}}
            },
        },
        "servers": [{"url": f"{req.base_url}/fal/queue"}],
        "security": [{"apiKeyAuth": []}],
    }


def _models(req: Request, ctx: Context) -> Response:
    info = platform_auth(req, ctx, required=False)
    if isinstance(info, Response):
        return info
    paging = page(req)
    if isinstance(paging, Response):
        return paging
    limit, number = paging
    wanted = req.args("endpoint_id")
    models = fal_models()
    if wanted:  # Find mode; UNVERIFIED: unknown ids are simply absent (404 or empty list? §3.1)
        models = [m for eid in wanted for m in models if m.endpoint_id == eid]
    else:
        q = (req.arg("q") or "").lower()
        category, status = req.arg("category"), req.arg("status")
        models = [
            m
            for m in models
            if (not category or m.category == category)
            and (not status or m.status == status)
            and (
                not q
                or q in " ".join([m.endpoint_id, m.display_name, m.description, m.category, *m.tags]).lower()
            )
        ]
    start = (number - 1) * limit
    chunk = models[start : start + limit]
    has_more = start + limit < len(models)
    expand = req.args("expand")
    items = []
    for model in chunk:
        item: Json = {"endpoint_id": model.endpoint_id, "metadata": _metadata(req, model, info is not None)}
        if "openapi-3.0" in expand:
            item["openapi"] = openapi_document(req, model)
        items.append(item)
    return json_response(
        200, {"models": items, "next_cursor": next_cursor(number, has_more), "has_more": has_more}
    )


def _pricing(req: Request, ctx: Context) -> Response:
    info = platform_auth(req, ctx, required=True)
    if isinstance(info, Response):
        return info
    wanted = req.args("endpoint_id")
    if not wanted:
        return fal_platform_error(400, "validation_error", "endpoint_id is required")
    known = {m.endpoint_id: m for m in fal_models()}
    prices = [
        {"endpoint_id": eid, "unit_price": known[eid].unit_price, "unit": known[eid].unit, "currency": "USD"}
        for eid in wanted
        if eid in known
    ]
    if not prices:
        return fal_platform_error(404, "not_found", "Resource not found")
    return json_response(200, {"prices": prices, "next_cursor": None, "has_more": False})


def _billing(req: Request, ctx: Context) -> Response:
    info = require_key(req, ctx, admin=True)
    if isinstance(info, Response):
        return info
    body: Json = {"username": info.account}
    if "credits" in req.args("expand"):
        body["credits"] = {"current_balance": info.balance, "currency": "USD"}
    return json_response(200, body)


# --- rest.fal.ai: storage ---------------------------------------------------------------------------------


def handle_rest(req: Request, ctx: Context) -> Response:
    """The calls fal_client 1.0.3's upload() makes (fal-api.md §4): a CDN token, or initiate + PUT."""
    path = req.sub.rstrip("/")
    if req.method != "POST" or path not in ("/storage/auth/token", "/storage/upload/initiate"):
        return fal_detail(404, "Not Found")  # UNVERIFIED: rest.fal.ai's body for other paths
    info = fal.authenticate(req, ctx, billable=True)  # locked accounts cannot upload (§2.2, issue #1147)
    if isinstance(info, Response):
        return info
    if path == "/storage/auth/token":
        token = "sbx-cdn-" + uuid.uuid4().hex
        with ctx.store.lock:
            ctx.store.cdn_tokens[token] = info.account
        body = {
            "token": token,
            "token_type": "Bearer",
            "base_url": f"{req.base_url}/fal/cdn",
            "expires_at": iso(time.time() + 3600),
        }
        return json_response(200, body)
    try:
        spec = req.json() or {}
    except json.JSONDecodeError:
        spec = {}
    name = str(spec.get("file_name") or "upload.bin")
    content_type = str(spec.get("content_type") or "application/octet-stream")
    stored = StoredFile(uuid.uuid4().hex, name, content_type, b"", time.time(), info.account)
    ctx.store.add_file(stored)
    return json_response(
        200,
        {
            "upload_url": f"{req.base_url}/fal/cdn/upload/{stored.id}",
            "file_url": f"{req.base_url}/fal/cdn/files/{stored.id}/{name}",
        },
    )


# --- v3.fal.media: the CDN --------------------------------------------------------------------------------


def handle_cdn(req: Request, ctx: Context) -> Response:
    parts = req.sub.strip("/").split("/")
    if req.method in ("GET", "HEAD"):
        return _cdn_get(req, ctx, parts)
    if req.method == "PUT" and len(parts) == 2 and parts[0] == "upload":
        return _signed_put(req, ctx, parts[1])
    with ctx.store.lock:
        account = ctx.store.cdn_tokens.get(bearer(req, ("Bearer",)) or "")
    if account is None:
        return fal_detail(401, "Unauthorized")  # UNVERIFIED: the CDN's answer to a missing/stale token
    if req.method == "POST" and parts == ["files", "upload"]:
        stored = _store_upload(req, ctx, account, req.body)
        return json_response(200, {"access_url": _access_url(req, stored)})
    if req.method == "POST" and parts == ["files", "upload", "multipart"]:
        stored = _store_upload(req, ctx, account, b"")
        upload_id = uuid.uuid4().hex
        with ctx.store.lock:
            ctx.store.multipart[upload_id] = []
        return json_response(200, {"access_url": _access_url(req, stored), "uploadId": upload_id})
    if len(parts) >= 6 and parts[0] == "files" and parts[3] == "multipart":
        return _multipart(req, ctx, parts[1], parts[4], parts[5])
    return fal_detail(404, "Not Found")


def _store_upload(req: Request, ctx: Context, account: str, data: bytes) -> StoredFile:
    name = req.header("x-fal-file-name") or "upload.bin"
    content_type = req.header("content-type") or "application/octet-stream"
    return ctx.store.add_file(StoredFile(uuid.uuid4().hex, name, content_type, data, time.time(), account))


def _access_url(req: Request, stored: StoredFile) -> str:
    return f"{req.base_url}/fal/cdn/files/{stored.id}/{stored.name}"


def _signed_put(req: Request, ctx: Context, file_id: str) -> Response:
    with ctx.store.lock:
        stored = ctx.store.files.get(file_id)
        if stored is None:
            return fal_detail(404, "Not Found")
        stored.data = req.body
        stored.content_type = req.header("content-type") or stored.content_type
    return Response(200)


def _multipart(req: Request, ctx: Context, file_id: str, upload_id: str, action: str) -> Response:
    with ctx.store.lock:
        parts = ctx.store.multipart.get(upload_id)
        stored = ctx.store.files.get(file_id)
        if parts is None or stored is None:
            return fal_detail(404, "Not Found")
        if req.method == "PUT" and action.isdigit():
            parts.append((int(action), req.body))
            return Response(200, {"ETag": f'"{hashlib.md5(req.body).hexdigest()}"'})
        if req.method == "POST" and action == "complete":
            stored.data = b"".join(data for _, data in sorted(parts))
            del ctx.store.multipart[upload_id]
            return json_response(200, {"access_url": _access_url(req, stored)})
    return fal_detail(404, "Not Found")


def _cdn_get(req: Request, ctx: Context, parts: list[str]) -> Response:
    if len(parts) == 2 and parts[0] == "thumbnails":
        return media_response(MediaSpec("png", parts[1], parts[1].encode(), width=64, height=64))
    if len(parts) >= 2 and parts[0] == "files":
        with ctx.store.lock:
            stored = ctx.store.files.get(parts[1])
            spec = ctx.store.media.get(parts[1])
        if stored is not None:
            return Response(200, {"Content-Type": stored.content_type}, stored.data)
        if spec is not None:
            return media_response(spec)
    return fal_detail(404, "Not Found")
