"""The model catalogue's types, JSON-schema builders and look-ups (the models live in catalog_*.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Json = dict[str, Any]
OutputKind = Literal["image", "video", "audio", "speech", "text"]
_UNSET: Any = object()


@dataclass(frozen=True)
class FalModel:
    """One fal endpoint: its platform metadata, OpenAPI components and how it answers."""

    endpoint_id: str
    display_name: str
    category: str
    description: str
    kind: OutputKind
    schema_prefix: str  # components.schemas.<prefix>Input / <prefix>Output
    schemas: Json
    tags: tuple[str, ...] = ()
    status: Literal["active", "deprecated"] = "active"
    unit_price: float = 0.0  # illustrative prices, not fal's price list
    unit: str = "image"
    typed_errors: bool = False  # 422 bodies in fal's typed form (type/url/ctx) instead of Pydantic v1 style
    date: str = "2024-08-01T00:00:00Z"

    @property
    def app(self) -> str:
        """owner/app: what the queue's status, result and cancel URLs use (fal-api.md §1.2)."""
        return "/".join(self.endpoint_id.split("/")[:2])

    @property
    def input_schema(self) -> Json:
        schema: Json = self.schemas[f"{self.schema_prefix}Input"]
        return schema


@dataclass(frozen=True)
class ReplicateVersion:
    id: str
    created_at: str
    openapi_schema: Json
    cog_version: str = "0.9.13"

    @property
    def input_schema(self) -> Json:
        schema: Json = self.openapi_schema["components"]["schemas"]["Input"]
        return schema


@dataclass(frozen=True)
class ReplicateModel:
    """One Replicate model with its versions, newest first."""

    owner: str
    name: str
    description: str
    kind: OutputKind
    official: bool
    versions: tuple[ReplicateVersion, ...]
    run_count: int = 0
    collections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    output_shape: Literal["list", "single", "text_list"] = "list"
    github_url: str | None = None
    paper_url: str | None = None
    license_url: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def latest(self) -> ReplicateVersion:
        return self.versions[0]


@dataclass(frozen=True)
class Collection:
    slug: str
    name: str
    description: str
    models: tuple[str, ...] = field(default=())


# --- schema builders (OpenAPI 3.0 property objects) -----------------------------------------------------


def _prop(kind: str | None, title: str, description: str, default: Any, extra: dict[str, Any]) -> Json:
    out: Json = {"title": title}
    if kind is not None:
        out["type"] = kind
    if description:
        out["description"] = description
    if default is not _UNSET:
        out["default"] = default
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def string(title: str, description: str = "", default: Any = _UNSET, **extra: Any) -> Json:
    return _prop("string", title, description, default, extra)


def integer(
    title: str, description: str = "", default: Any = _UNSET, lo: int | None = None, hi: int | None = None
) -> Json:
    return _prop("integer", title, description, default, {"minimum": lo, "maximum": hi})


def number(
    title: str, description: str = "", default: Any = _UNSET, lo: float | None = None, hi: float | None = None
) -> Json:
    return _prop("number", title, description, default, {"minimum": lo, "maximum": hi})


def boolean(title: str, description: str = "", default: Any = _UNSET) -> Json:
    return _prop("boolean", title, description, default, {})


def enum(title: str, values: list[str], default: Any = _UNSET, description: str = "") -> Json:
    return _prop("string", title, description, default, {"enum": values})


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def ref_field(title: str, name: str, default: Any = _UNSET, description: str = "") -> Json:
    """An enum field the way Cog and FastAPI emit it: allOf a named component."""
    return _prop(None, title, description, default, {"allOf": [ref(name)]})


def fal_object(title: str, properties: dict[str, Json], required: list[str]) -> Json:
    out: Json = {"title": title, "type": "object", "properties": properties}
    out["x-fal-order-properties"] = list(properties)
    if required:
        out["required"] = required
    return out


def cog_input(properties: dict[str, Json], required: list[str]) -> Json:
    """Cog's Input schema: every property carries x-order in declaration order (replicate-api.md §3.2)."""
    ordered = {name: {**prop, "x-order": i} for i, (name, prop) in enumerate(properties.items())}
    out: Json = {"type": "object", "title": "Input", "properties": ordered}
    if required:
        out["required"] = required
    return out


def cog_enum(name: str, values: list[str]) -> Json:
    return {"title": name, "description": "An enumeration.", "enum": values, "type": "string"}


def resolve(schema: Json, components: Json) -> Json:
    """Follow a $ref, or a single-element allOf wrapper, to the schema that actually constrains a value."""
    seen = 0
    while seen < 8:
        seen += 1
        if "$ref" in schema:
            schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        elif "allOf" in schema and len(schema["allOf"]) == 1:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            target = resolve(schema["allOf"][0], components)
            schema = {**target, **merged}
        else:
            break
    return schema


# --- look-ups -------------------------------------------------------------------------------------------


def fal_models() -> list[FalModel]:
    from genctl.sandbox.catalog_fal import IMAGE_MODELS
    from genctl.sandbox.catalog_fal_av import AV_MODELS
    from genctl.sandbox.catalog_fal_partner import PARTNER_MODELS

    return [*IMAGE_MODELS, *AV_MODELS, *PARTNER_MODELS]


def fal_model(endpoint_id: str) -> FalModel | None:
    return next((m for m in fal_models() if m.endpoint_id == endpoint_id), None)


def fal_app_known(app: str) -> bool:
    return any(m.app == app for m in fal_models())


def replicate_models() -> list[ReplicateModel]:
    from genctl.sandbox.catalog_replicate import REPLICATE_MODELS
    from genctl.sandbox.catalog_replicate_official import OFFICIAL_IMAGE_MODELS
    from genctl.sandbox.catalog_replicate_video import OFFICIAL_VIDEO_MODELS

    return [*REPLICATE_MODELS, *OFFICIAL_IMAGE_MODELS, *OFFICIAL_VIDEO_MODELS]


def replicate_model(owner: str, name: str) -> ReplicateModel | None:
    return next((m for m in replicate_models() if m.owner == owner and m.name == name), None)


def replicate_version(version_id: str) -> tuple[ReplicateModel, ReplicateVersion] | None:
    for model in replicate_models():
        for version in model.versions:
            if version.id == version_id:
                return model, version
    return None


def collections() -> list[Collection]:
    """The collections, each also holding the later models that name it (and new slugs they name)."""
    from genctl.sandbox.catalog_replicate import COLLECTIONS

    members: dict[str, list[str]] = {c.slug: list(c.models) for c in COLLECTIONS}
    for model in replicate_models():
        for slug in model.collections:
            if model.ref not in members.setdefault(slug, []):
                members[slug].append(model.ref)
    found = [Collection(c.slug, c.name, c.description, tuple(members[c.slug])) for c in COLLECTIONS]
    known = {c.slug for c in COLLECTIONS}
    extra = [
        Collection(s, _NEW_COLLECTIONS[s][0], _NEW_COLLECTIONS[s][1], tuple(m))
        for s, m in members.items()
        if s not in known
    ]
    return found + extra


_NEW_COLLECTIONS = {"image-editing": ("Edit images", "Tools for manipulating images")}
