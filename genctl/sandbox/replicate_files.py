"""Replicate's Files API (api.replicate.com/v1/files): multipart upload, get, list, download, delete (§4)."""

from __future__ import annotations

import email.policy
import hashlib
import json
import time
from email import message_from_bytes
from email.message import EmailMessage

from genctl.sandbox.catalog import Json
from genctl.sandbox.keys import KeyInfo
from genctl.sandbox.replicate_common import file_not_found, page, problem_only
from genctl.sandbox.state import Context, StoredFile, iso, replicate_id
from genctl.sandbox.wire import Request, Response, json_response, problem

MAX_FILE = 100 * 1024 * 1024


# --- files --------------------------------------------------------------------------------------------------


def file_json(req: Request, stored: StoredFile) -> Json:
    return {
        "id": stored.id,
        "name": stored.name,
        "content_type": stored.content_type,
        "size": len(stored.data),
        "etag": hashlib.md5(stored.data).hexdigest(),
        "checksums": {
            "sha256": hashlib.sha256(stored.data).hexdigest(),
            "md5": hashlib.md5(stored.data).hexdigest(),
        },
        "metadata": stored.metadata,
        "created_at": iso(stored.created),
        "expires_at": iso(stored.created + 24 * 3600),  # the recorded cassette's policy (§4)
        "urls": {"get": f"{req.base_url}/replicate/v1/files/{stored.id}"},
    }


def _multipart(req: Request) -> dict[str, EmailMessage]:
    head = f"Content-Type: {req.header('content-type') or ''}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = message_from_bytes(head + req.body, policy=email.policy.HTTP)
    parts: dict[str, EmailMessage] = {}
    if isinstance(message, EmailMessage) and message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str) and isinstance(part, EmailMessage):
                parts[name] = part
    return parts


def file_create(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    if len(req.body) > MAX_FILE:
        return problem_only(413, {"detail": "Files must be less than 100MB in size"})  # the spec's 413
    fields = _multipart(req)
    content = fields.get("content")
    if content is None:
        return problem(400, "The content field is required")  # UNVERIFIED: status and wording
    data = content.get_payload(decode=True)
    metadata: Json = {}
    if "metadata" in fields:
        try:
            metadata = json.loads(fields["metadata"].get_content())
        except (json.JSONDecodeError, KeyError, LookupError):
            return problem(400, "metadata must be a JSON object")  # UNVERIFIED: status and wording
    name = content.get_filename() or "file"
    stored = StoredFile(
        replicate_id(),
        name,
        content.get_content_type(),
        data if isinstance(data, bytes) else b"",
        time.time(),
        info.account,
        metadata,
        provider="replicate",
    )
    ctx.store.add_file(stored)
    return json_response(201, file_json(req, stored))


def _own_file(ctx: Context, info: KeyInfo, file_id: str) -> StoredFile | Response:
    with ctx.store.lock:
        stored = ctx.store.files.get(file_id)
    if stored is None or stored.account != info.account or stored.provider != "replicate":
        return file_not_found()
    return stored


def file_get(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    stored = _own_file(ctx, info, parts[1])
    return stored if isinstance(stored, Response) else json_response(200, file_json(req, stored))


def file_download(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    stored = _own_file(ctx, info, parts[1])
    if isinstance(stored, Response):
        return stored
    return Response(200, {"Content-Type": stored.content_type}, stored.data)


def file_delete(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    stored = _own_file(ctx, info, parts[1])
    if isinstance(stored, Response):
        return stored
    with ctx.store.lock:
        ctx.store.files.pop(stored.id, None)
    return Response(204)


def files(req: Request, ctx: Context, info: KeyInfo, parts: list[str]) -> Response:
    with ctx.store.lock:
        mine = [
            f for f in ctx.store.files.values() if f.account == info.account and f.provider == "replicate"
        ]
    mine.sort(key=lambda f: f.created, reverse=True)
    return page(req, [file_json(req, f) for f in mine], 100, "files")
