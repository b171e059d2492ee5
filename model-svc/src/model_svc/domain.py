"""model-svc domain types."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

DownloadStatus = Literal["pending", "completed", "error", "cancelled"]


class RequestParams(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """OpenAI request parameters an alias fills in when the client leaves them unset."""

    frequency_penalty: float | None = None
    max_tokens: int | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = msgspec.field(default_factory=list)
    user: str | None = None


class LocalFile(msgspec.Struct, frozen=True, kw_only=True):
    """A GGUF file in the local Hugging Face cache."""

    repo: str
    filename: str
    snapshot: str
    size: int | None
    path: str


class UserAlias(msgspec.Struct, frozen=True, kw_only=True):
    """A user's name for a local file, with parameter defaults."""

    alias: str
    repo: str
    filename: str
    snapshot: str
    request_params: RequestParams = RequestParams()
    context_params: list[str] = msgspec.field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ModelAlias(msgspec.Struct, frozen=True, kw_only=True):
    """An alias derived from a cached file: owner/name:QUALIFIER."""

    alias: str
    repo: str
    filename: str
    snapshot: str
    created_at: datetime | None = None


class CatalogModel(msgspec.Struct, frozen=True, kw_only=True):
    """A downloadable model of the catalog (models.yaml)."""

    alias: str
    repo: str
    filename: str
    snapshot: str = "main"
    request_params: RequestParams = RequestParams()
    context_params: list[str] = msgspec.field(default_factory=list)


class Download(msgspec.Struct, frozen=True, kw_only=True):
    """A pull of one file and its progress."""

    id: str
    repo: str
    filename: str
    revision: str
    status: DownloadStatus
    alias: str | None = None
    error: str | None = None
    error_code: str | None = None
    commit: str | None = None
    total_bytes: int | None = None
    downloaded_bytes: int = 0
    bytes_per_second: float = 0.0
    started_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ModelMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """What a GGUF file says about its model."""

    name: str | None = None
    architecture: str = ""
    parameter_count: int | None = None
    context_length: int | None = None
    quantization: str = ""
    chat_template: str | None = None
    file_size: int = 0
