"""HTTP bodies of model files, pulls, aliases and the catalog (the reference API's shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from gateway.schemas.ai import ApiAliasOut

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
# The services' messages hold int64: a larger number is a 400 here, not a message that cannot
# be built.
INT64_MAX = 2**63 - 1
Int64 = Annotated[int, msgspec.Meta(ge=-INT64_MAX - 1, le=INT64_MAX)]


class RequestParamsBody(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """OpenAI request parameters an alias fills in when the client leaves them unset."""

    frequency_penalty: float | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)] | None = None
    presence_penalty: float | None = None
    seed: Int64 | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = msgspec.field(default_factory=list)
    user: str | None = None


class LocalFileOut(msgspec.Struct, frozen=True, kw_only=True):
    """A GGUF file in the local cache."""

    repo: str
    filename: str
    snapshot: str
    size: int | None
    model_params: dict[str, Any] = msgspec.field(default_factory=dict)


class LocalFilePage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of cached files."""

    data: list[LocalFileOut]
    total: int
    page: int
    page_size: int


class PullRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to download."""

    repo: Text
    filename: Text
    revision: Annotated[str, msgspec.Meta(max_length=200)] = "main"


class DownloadOut(msgspec.Struct, frozen=True, kw_only=True):
    """A download request and its progress."""

    id: str
    repo: str
    filename: str
    revision: str
    status: str
    error: str | None = None
    error_code: str | None = None
    alias: str | None = None
    total_bytes: int | None = None
    downloaded_bytes: int = 0
    bytes_per_second: float = 0.0
    started_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ProgressOut(msgspec.Struct, frozen=True, kw_only=True):
    """A progress event of a download (the SSE stream's data)."""

    id: str
    status: str
    total_bytes: int | None = None
    downloaded_bytes: int = 0
    bytes_per_second: float = 0.0
    error: str | None = None
    error_code: str | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None


class DownloadPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of downloads."""

    data: list[DownloadOut]
    total: int
    page: int
    page_size: int


class AliasBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A user alias to create (POST) or put (PUT, with the alias from the path)."""

    alias: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    repo: Text
    filename: Text
    snapshot: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    request_params: RequestParamsBody | None = None
    context_params: list[str] | None = None


class UserAliasOut(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="source", tag="user", omit_defaults=True
):
    """A user alias (source user)."""

    alias: str
    repo: str
    filename: str
    snapshot: str
    request_params: dict[str, Any] = msgspec.field(default_factory=dict)
    context_params: list[str] = msgspec.field(default_factory=list)
    model_params: dict[str, Any] = msgspec.field(default_factory=dict)


class ModelAliasOut(msgspec.Struct, frozen=True, kw_only=True, tag_field="source", tag="model"):
    """An alias derived from a cached file (source model)."""

    alias: str
    repo: str
    filename: str
    snapshot: str


AnyAlias = UserAliasOut | ModelAliasOut | ApiAliasOut


class AliasPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of aliases."""

    data: list[AnyAlias]
    total: int
    page: int
    page_size: int


class CatalogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A downloadable catalog model."""

    alias: str
    repo: str
    filename: str
    snapshot: str
    request_params: dict[str, Any]
    context_params: list[str]
    downloaded: bool


class CatalogPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of the catalog."""

    data: list[CatalogEntry]
    total: int
    page: int
    page_size: int


class MetadataOut(msgspec.Struct, frozen=True, kw_only=True):
    """GGUF metadata of a model file."""

    name: str | None
    architecture: str
    parameter_count: int | None
    context_length: int | None
    quantization: str
    chat_template: str | None
    file_size: int


class HubTokenBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A Hub access token to store."""

    token: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class HubTokenOut(msgspec.Struct, frozen=True, kw_only=True):
    """Which Hub token downloads use, never the token: `source` is env (HF_TOKEN), stored (the
    one an admin stored), file (HF_HOME/token) or none; `stored` says whether one is stored."""

    source: Literal["none", "env", "stored", "file"]
    stored: bool


FileSort = Literal["repo", "filename", "snapshot", "size"]
AliasSort = Literal["alias", "name", "repo", "filename", "source"]
