"""HTTP bodies of the API model routes and the OpenAI model listing (reference §1.3, §1.6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

ApiFormat = Literal["openai"]
Url = Annotated[str, msgspec.Meta(max_length=2048)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Models = Annotated[list[Name], msgspec.Meta(min_length=1, max_length=500)]
Prefix = Annotated[str, msgspec.Meta(max_length=64)]


class ApiModelCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new API model: the provider's base URL, its key and the models it serves."""

    id: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
        | None
    ) = None
    api_format: ApiFormat = "openai"
    base_url: Url
    api_key: Key
    models: Models
    prefix: Prefix | None = None


class ApiModelUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An API model's new settings; the key changes only when one is sent."""

    api_format: ApiFormat = "openai"
    base_url: Url
    api_key: Key | None = None
    models: Models
    prefix: Prefix | None = None


class ApiModelOut(msgspec.Struct, frozen=True, kw_only=True):
    """An API model; the key only masked."""

    id: str
    api_format: ApiFormat
    base_url: str
    api_key_masked: str
    models: list[str]
    prefix: str | None
    created_at: datetime
    updated_at: datetime


class ApiAliasOut(msgspec.Struct, frozen=True, kw_only=True, tag_field="source", tag="api"):
    """An API model as listed among the aliases (source api)."""

    id: str
    api_format: ApiFormat
    base_url: str
    models: list[str]
    prefix: str | None
    created_at: datetime
    updated_at: datetime


class ApiModelPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of API models, newest first."""

    data: list[ApiModelOut]
    total: int
    page: int
    page_size: int


class ApiFormats(msgspec.Struct, frozen=True, kw_only=True):
    """The provider wire formats supported."""

    data: list[ApiFormat]


class ProviderCheck(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which provider to call: a key and base URL, or a stored API model's id (whose stored
    base URL is then used, whatever base_url says)."""

    api_key: Key | None = None
    id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    base_url: Url = ""


class TestPrompt(ProviderCheck, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A short prompt to test a provider with."""

    model: Name
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=30)]


class TestResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of a test prompt; a provider failure is reported here."""

    success: bool
    response: str | None
    error: str | None


class ProviderModels(msgspec.Struct, frozen=True, kw_only=True):
    """The model ids a provider lists."""

    models: list[str]


class OpenAIModel(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of GET /v1/models."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIModelList(msgspec.Struct, frozen=True, kw_only=True):
    """GET /v1/models."""

    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class ModelEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A routable model name and where it comes from."""

    id: str
    created: int
    owned_by: str
    source: Literal["user", "model", "api"]


class ModelCatalog(msgspec.Struct, frozen=True, kw_only=True):
    """Every routable model name; `local_unavailable`: model-svc could not be asked, so only
    the API models are listed."""

    entries: list[ModelEntry]
    local_unavailable: bool = False


class Upstream(msgspec.Struct, frozen=True, kw_only=True):
    """The start of a proxied upstream answer."""

    status: int
    headers: list[tuple[str, str]]
    upstream_ms: float
