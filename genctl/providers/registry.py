"""The provider registry: one descriptor per provider, every fact genctl knows about it, on the ground floor.

Everything outside `genctl/providers/` asks here — names, labels, key env vars and pages, default URLs,
model-id and key shapes, masking, retention — instead of spelling a provider's name. Adding a provider
starts with one `ProviderInfo` below (see docs/adding-a-provider.md). This module imports nothing of
genctl but `errors`, so any module may use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from genctl.errors import GenctlError, error


@dataclass(frozen=True)
class Retention:
    """How long the provider keeps a finished job's result (and its files) for `genctl result`."""

    seconds: float
    rule: str  # the provider's rule in words, for messages
    large_bytes: int | None = None  # results this big or bigger are kept only `large_seconds`
    large_seconds: float | None = None

    def keeps(self, result_bytes: int | None) -> float:
        """Seconds the result of that size stays available after the job completes."""
        large = self.large_bytes is not None and result_bytes is not None and result_bytes >= self.large_bytes
        return self.large_seconds if large and self.large_seconds is not None else self.seconds


@dataclass(frozen=True)
class ProviderInfo:
    """What genctl knows about one provider, in one place."""

    name: str  # as in config, flags and JSON
    label: str  # as people write it
    key_env_vars: tuple[str, ...]  # env vars holding keys, in pool order (each may hold several, by comma)
    key_page: str  # where a user creates a key
    billing_page: str
    models_page: str  # where a user browses models
    model_page: str  # one model's page, `{id}` for its id
    status_page: str
    default_urls: Mapping[str, str]  # setting name -> URL ([providers.X] and GENCTL_X_<NAME>)
    submit_url: str  # the setting whose host receives the paid submit
    default_model: str  # the model of `genctl generate` without -m (the `flux-schnell` alias there)
    owners: frozenset[str]  # model-id owners seen only on this provider
    key_shape: re.Pattern[str]  # the usual shape of a key (a warning only: formats change)
    key_shape_hint: str  # that shape in words
    key_marker: re.Pattern[str]  # what gives a key of this provider away, even a damaged one
    key_noun: str  # "fal key", "Replicate token"
    key_look: str  # how a key looks, for messages: `<key_id>:<key_secret>`, `r8_…`
    key_format_fix: str  # how a whole key is written and where to copy it
    auth_scheme: str  # the Authorization scheme: `Key`, `Bearer`
    key_prefix: str | None = None  # the start every key has (`r8_`)
    key_separator: str | None = None  # keys are `<id><sep><secret>`: masked as id head + secret tail
    key_pair_env: tuple[str, str] | None = None  # a key split over two env vars: (id, secret)
    id_min_segments: int | None = None  # an id with this many `/`-segments or more is this provider's
    version_ids: bool = False  # bare 64-hex version ids and `owner/name:version` are this provider's
    billing_unprobed: bool = False  # no free request shows billing: the last paid call's refusal is evidence
    publishes_prices: bool = False  # list prices come with the catalogue (genctl.providers.sources)
    private_models: bool = False  # a model missing from the public catalogue may still be a private one
    status_stream: bool = False  # a job's status changes come as Server-Sent Events (genctl.waiting)
    get_limit_per_minute: int | None = None  # the published GET rate per account, for polling budgets
    retention: Retention = field(default_factory=lambda: Retention(3600.0, "results are kept 1 hour"))
    image_extension: str = "jpg"  # what the provider calls JPEG in `output_format` values
    # Which name of an input family (translate: e.g. num_images vs num_outputs) its models usually use:
    # an index into the family's names.
    usual_name: int = 0
    # How its models take an image size (translate): some of image_size, aspect_ratio, dims (width +
    # height); `size_style` when a model's schema is unknown.
    size_styles: frozenset[str] = frozenset({"aspect_ratio", "dims"})
    size_style: str = "aspect_ratio"

    def mask(self, secret: str) -> str:
        """The one displayable form of this provider's key: `a1b2…9f0e` or `r8_A…x9Yz`."""
        s = secret.strip()
        if self.key_separator and self.key_separator in s:
            key_id, _, key_secret = s.partition(self.key_separator)
            if len(key_id) < 8 or len(key_secret) < 8:
                return "…" if not s else f"{key_id[:1]}…"
            return f"{key_id[:4]}…{key_secret[-4:]}"
        if len(s) < 12:
            return "…" if not s else f"{s[:1]}…"  # too short to show any of it safely
        return f"{s[:4]}…{s[-4:]}"

    def looks_like_key(self, secret: str) -> bool:
        """The secret has this provider's usual shape (only a hint: formats change)."""
        return bool(self.key_shape.fullmatch(secret.strip()))

    @property
    def key_env(self) -> str:
        """The env var a user is told to set."""
        return self.key_env_vars[0]


FAL = ProviderInfo(
    name="fal",
    label="fal.ai",
    key_env_vars=("FAL_KEY", "FAL_API_KEY"),
    key_page="https://fal.ai/dashboard/keys",
    billing_page="https://fal.ai/dashboard/billing",
    models_page="fal.ai/models",
    model_page="https://fal.ai/models/{id}",
    status_page="https://status.fal.ai",
    default_urls=MappingProxyType(
        {
            "queue_url": "https://queue.fal.run",
            "run_url": "https://fal.run",
            "api_url": "https://api.fal.ai/v1",
            "rest_url": "https://rest.fal.ai",
        }
    ),
    submit_url="queue_url",
    default_model="fal-ai/flux/schnell",
    owners=frozenset({"fal-ai", "fal", "workflows", "comfy"}),
    key_shape=re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}:[0-9a-f]{32}", re.IGNORECASE),
    key_shape_hint="<uuid>:<32 hex>",
    key_marker=re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}:", re.IGNORECASE),
    key_noun="fal key",
    key_look="<key_id>:<key_secret>",
    key_format_fix="A fal key is '<key_id>:<key_secret>' (both halves, one colon); copy the whole key from "
    "https://fal.ai/dashboard/keys.",
    auth_scheme="Key",
    key_separator=":",
    key_pair_env=("FAL_KEY_ID", "FAL_KEY_SECRET"),
    id_min_segments=3,
    publishes_prices=True,  # GET /v1/models/pricing (fal-api.md §3.2)
    private_models=True,  # apps deployed privately are not in /v1/models
    status_stream=True,  # GET .../requests/{id}/status/stream (fal-api.md §1.1)
    # fal-api.md §1.1: 1 hour after completion, 6 minutes when the result is 10 KB or more.
    retention=Retention(
        3600.0,
        "fal keeps a result 1 hour after the job completes, only 6 minutes when it is 10 KB or more",
        large_bytes=10 * 1024,  # "10 KB": whether fal means 10,000 or 10,240 bytes is UNVERIFIED
        large_seconds=360.0,
    ),
    image_extension="jpeg",
    usual_name=0,
    size_styles=frozenset({"image_size", "aspect_ratio"}),  # image_size (video: aspect_ratio)
    size_style="image_size",
)

REPLICATE = ProviderInfo(
    name="replicate",
    label="Replicate",
    key_env_vars=("REPLICATE_API_TOKEN",),
    key_page="https://replicate.com/account/api-tokens",
    billing_page="https://replicate.com/account/billing",
    models_page="replicate.com/explore",
    model_page="https://replicate.com/{id}",
    status_page="https://replicatestatus.com",
    default_urls=MappingProxyType({"api_url": "https://api.replicate.com/v1"}),
    submit_url="api_url",
    default_model="black-forest-labs/flux-schnell",
    owners=frozenset(
        {
            "black-forest-labs",
            "stability-ai",
            "bytedance",
            "google",
            "ideogram-ai",
            "recraft-ai",
            "minimax",
            "luma",
            "kwaivgi",
            "openai",
            "meta",
            "lucataco",
            "wan-video",
            "prunaai",
            "qwen",
            "replicate",
            "nvidia",
            "tencent",
            "leonardoai",
            "runwayml",
            "pixverse",
            "resemble-ai",
            "zsxkib",
            "jaaari",
        }
    ),
    key_shape=re.compile(r"r8_[A-Za-z0-9]{37}"),
    key_shape_hint="r8_ + 40 characters",
    key_marker=re.compile(r"r8_"),
    key_noun="Replicate token",
    key_look="r8_…",
    key_format_fix="Replicate tokens start with r8_ (https://replicate.com/account/api-tokens).",
    auth_scheme="Bearer",
    key_prefix="r8_",
    version_ids=True,
    billing_unprobed=True,  # a 402 cannot be probed for free (replicate-api.md §8)
    get_limit_per_minute=3000,  # and 600 creates/min (replicate-api.md §1.8)
    # replicate-api.md §1.6: API prediction outputs are deleted after 1 hour.
    retention=Retention(3600.0, "Replicate deletes the outputs of an API prediction after 1 hour"),
    image_extension="jpg",
    usual_name=-1,
)

PROVIDERS: Mapping[str, ProviderInfo] = MappingProxyType({p.name: p for p in (FAL, REPLICATE)})
NAMES: tuple[str, ...] = tuple(PROVIDERS)
DEFAULT = FAL.name  # the provider of a generation that names none
_VERSION = re.compile(r"^[0-9a-f]{64}$")


def info(name: str) -> ProviderInfo:
    """The descriptor of provider `name`; usage.invalid with the choices when there is none."""
    found = PROVIDERS.get(name)
    if found is None:
        raise unknown(name)
    return found


def unknown(name: str) -> GenctlError:
    return error("usage.invalid", f"Unknown provider {name!r}.", fix=f"Choose one of: {', '.join(NAMES)}.")


def label(name: str) -> str:
    """`fal.ai`, `Replicate`; the name itself for one genctl does not know."""
    found = PROVIDERS.get(name)
    return found.label if found else name


def others(name: str) -> tuple[str, ...]:
    """Every provider but `name`, in registry order."""
    return tuple(p for p in NAMES if p != name)


def is_version_id(text: str) -> bool:
    """A bare 64-hex model version id."""
    return bool(_VERSION.match(text.strip()))


def detect(model_id: str) -> str | None:
    """Guess the provider from the shape of a model id; None when the id does not say."""
    model = model_id.strip()
    segments = model.split("/")
    rules: tuple[Callable[[ProviderInfo], bool], ...] = (
        lambda p: p.version_ids and bool(_VERSION.match(model)),
        lambda p: (
            p.id_min_segments is not None and (segments[0] in p.owners or len(segments) >= p.id_min_segments)
        ),
        lambda p: p.version_ids and len(segments) == 2 and ":" in segments[1],
        lambda p: len(segments) == 2 and segments[0] in p.owners,
    )
    for rule in rules:  # the most telling shape first: a version id, a deep path, an owner
        found = next((p.name for p in PROVIDERS.values() if rule(p)), None)
        if found is not None:
            return found
    return None


def key_owner(secret: str) -> str | None:
    """The provider whose key this secret plainly is (`r8_…`, `<uuid>:…`); None: no telling."""
    s = secret.strip()
    return next((p.name for p in PROVIDERS.values() if p.key_marker.match(s)), None)


def by_auth_scheme(scheme: str) -> ProviderInfo | None:
    """The provider whose Authorization header uses this scheme (`Key` → fal)."""
    return next((p for p in PROVIDERS.values() if p.auth_scheme.lower() == scheme.lower()), None)


def guess_by_key(secret: str) -> ProviderInfo:
    """The provider a bare secret most likely belongs to, for masking a string with no provider attached."""
    owner = key_owner(secret)
    if owner is not None:
        return PROVIDERS[owner]
    return next((p for p in PROVIDERS.values() if p.key_separator and p.key_separator in secret), REPLICATE)
