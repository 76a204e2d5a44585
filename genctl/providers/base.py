"""The Provider protocol and the value types every provider speaks in.

A provider only *builds* requests and *parses* responses (pure functions over `HttpRequest` and
`httpx.Response`); sending, polling and retrying live in `genctl.runner`. That split is what lets the
tests call a provider with hand-made responses and no network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from genctl.values import HttpRequest, Key

if TYPE_CHECKING:
    import httpx

    from genctl.errors import GenctlError

__all__ = ["HttpRequest", "Key"]  # the Provider protocol speaks in them; they live in genctl.values

ProviderName = Literal["fal", "replicate"]
State = Literal["queued", "running", "succeeded", "failed", "canceled", "aborted"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "canceled", "aborted"})


@dataclass(frozen=True)
class Output:
    """One produced file: an https URL or a data: URI, or a plain JSON value (`value`) with no file."""

    url: str | None
    content_type: str | None = None
    file_name: str | None = None
    value: Any = None


@dataclass(frozen=True)
class Job:
    """A submitted generation: enough to poll, fetch, cancel, and later recover it."""

    provider: str
    model: str
    request_id: str
    status_url: str
    result_url: str | None = None
    cancel_url: str | None = None
    key_label: str | None = None


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands. `outputs` is set when the status itself carries them (Replicate)."""

    state: State
    queue_position: int | None = None
    logs: tuple[str, ...] = ()
    outputs: tuple[Output, ...] | None = None
    error: str | None = None
    error_type: str | None = None
    data_removed: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(frozen=True)
class Result:
    """What a finished job produced: its outputs and the provider's raw result body."""

    outputs: tuple[Output, ...]
    raw: Any = None
    billable_units: float | None = None  # fal: the result's x-fal-billable-units (None: not sent)


class Provider(Protocol):
    """What the runner needs from a provider. Every method is pure: no I/O, no clock."""

    name: str

    def submit_request(
        self,
        *,
        model: str,
        params: dict[str, Any],
        key: Key,
        deadline: float | None = None,
        wait: float | None = None,
    ) -> HttpRequest:
        """The POST that starts a (paid) generation; `deadline` (seconds) lets the server stop it too;
        `wait` (seconds): a provider that can hold the answer until the job ends (Replicate's `Prefer:
        wait`) may hold it that long; others ignore it."""
        ...

    def parse_submit(self, response: httpx.Response, *, model: str, key: Key) -> tuple[Job, JobStatus]:
        """The job and its first status from a 2xx submit response."""
        ...

    def status_request(self, job: Job, *, key: Key, logs: bool = True) -> HttpRequest: ...

    def parse_status(self, response: httpx.Response) -> JobStatus: ...

    def status_stream_request(self, job: Job, *, key: Key, logs: bool = True) -> HttpRequest | None:
        """The GET of the job's status as Server-Sent Events, each event a status `parse_status` reads;
        None when the provider has no such stream (genctl.waiting then polls)."""
        ...

    def result_request(self, job: Job, *, key: Key) -> HttpRequest | None:
        """The GET for the result, or None when the terminal status already carries the outputs."""
        ...

    def parse_result(self, response: httpx.Response) -> Result: ...

    def cancel_request(self, job: Job, *, key: Key) -> HttpRequest | None: ...

    def download_headers(self, url: str, *, key: Key) -> dict[str, str]:
        """Headers for fetching an output file: auth only to the provider's own hosts, never elsewhere."""
        ...

    def error_from_response(
        self, response: httpx.Response, *, model: str | None = None, key: Key | None = None
    ) -> GenctlError:
        """Map a non-2xx response to the GenctlError with its diagnosis code and fix."""
        ...

    def error_from_status(self, job: Job, status: JobStatus) -> GenctlError:
        """Map a terminal non-success status (failed / canceled / aborted) to its GenctlError."""
        ...


# -- the model catalogue (genctl.catalog) ---------------------------------------------------------------

# What a category's output is, by its last word: fal's `text-to-image`, Replicate's collection slugs.
_OUTPUT_WORDS: dict[str, str] = {
    "image": "image",
    "images": "image",
    "video": "video",
    "videos": "video",
    "audio": "audio",
    "speech": "audio",
    "music": "audio",
    "3d": "3d",
    "text": "text",
    "llm": "text",
    "models": "text",  # Replicate's `language-models` collection
}


def category_kind(category: str | None) -> str | None:
    """What a model of this category outputs: image, video, audio, 3d or text; None when it doesn't say."""
    if not category:
        return None
    words = category.lower().replace("_", "-").split("-")
    if "llm" in words or "language" in words or "chat" in words:
        return "text"
    if words[-1] in _OUTPUT_WORDS:
        return _OUTPUT_WORDS[words[-1]]
    # `image-editing`, `ai-music-generation`: a media word anywhere names the output.
    return next((_OUTPUT_WORDS[w] for w in words if w in _OUTPUT_WORDS and _OUTPUT_WORDS[w] != "text"), None)


@dataclass(frozen=True)
class Price:
    """A provider's list price for one unit of output (fal `GET /v1/models/pricing`, fal-api.md §3.2)."""

    amount: float
    unit: str
    currency: str = "USD"

    def text(self) -> str:
        amount = f"{self.amount:.4f}".rstrip("0").rstrip(".")
        return f"${amount}/{self.unit}" if self.currency == "USD" else f"{amount} {self.currency}/{self.unit}"

    def to_json(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": self.unit, "currency": self.currency}

    @classmethod
    def from_json(cls, data: Any) -> Price:
        return cls(amount=float(data["amount"]), unit=str(data["unit"]), currency=str(data["currency"]))


@dataclass(frozen=True)
class ModelInfo:
    """One model of a provider's catalogue, as `genctl models` lists it. Never holds anything secret."""

    id: str
    provider: str
    category: str | None = None  # fal: metadata.category; Replicate: a collection slug or a search tag
    display_name: str = ""
    description: str = ""
    kind: str | None = None  # what it outputs: image, video, audio, 3d, text (None: unknown)
    status: str | None = None  # fal: active | deprecated
    is_official: bool | None = None  # Replicate: official models run without a version id
    latest_version: str | None = None  # Replicate
    price: Price | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "category": self.category,
            "display_name": self.display_name,
            "description": self.description,
            "kind": self.kind,
            "status": self.status,
            "is_official": self.is_official,
            "latest_version": self.latest_version,
            "price": self.price.to_json() if self.price else None,
            "url": self.url,
            "tags": list(self.tags),
        }

    @classmethod
    def from_json(cls, data: Any) -> ModelInfo:
        """Read back `to_json` (a cache file); KeyError/TypeError/ValueError when it is not that shape."""
        if not isinstance(data, dict) or not isinstance(data["id"], str):
            raise ValueError("not a model")
        price = data.get("price")
        return cls(
            id=data["id"],
            provider=str(data["provider"]),
            category=data.get("category"),
            display_name=str(data.get("display_name") or ""),
            description=str(data.get("description") or ""),
            kind=data.get("kind"),
            status=data.get("status"),
            is_official=data.get("is_official"),
            latest_version=data.get("latest_version"),
            price=Price.from_json(price) if price else None,
            url=data.get("url"),
            tags=tuple(str(t) for t in data.get("tags") or ()),
        )
