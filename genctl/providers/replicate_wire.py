"""Replicate wire details the prediction client reads: output files, empty outputs, error-body bits. Pure."""

from __future__ import annotations

import mimetypes
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from genctl.providers.base import Output

if TYPE_CHECKING:
    import httpx

_URL_IN_TEXT = re.compile(r"https?://[^\s]+[^\s.,;)]")


def file_output(url: str) -> Output:
    """One output file: a data: URI with its MIME type, or a URL with the type and name its path implies."""
    if url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0] or None
        return Output(url=url, content_type=mime)
    path = urlsplit(url).path
    file_name = path.rsplit("/", 1)[-1] or None
    return Output(url=url, content_type=mimetypes.guess_type(path)[0], file_name=file_name)


def sent_auth(response: httpx.Response) -> bool:
    """Whether the request behind `response` carried a token (a hand-made response counts as sent)."""
    try:
        return "authorization" in response.request.headers
    except RuntimeError:
        return True


def first_url(text: str) -> str | None:
    match = _URL_IN_TEXT.search(text)
    return match.group(0) if match else None


def is_empty_output(output: Any) -> bool:
    """null, "", {}, [] or a list of only those: a `succeeded` prediction with nothing in it."""
    if isinstance(output, list):
        return all(is_empty_output(item) for item in output)
    return output is None or output == "" or output == {}
