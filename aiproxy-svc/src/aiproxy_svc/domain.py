"""aiproxy-svc domain types."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import msgspec

from bodhi_common.errors import InvalidArgument


class ApiModel(msgspec.Struct, frozen=True, kw_only=True):
    """A remote OpenAI-compatible provider: where it is and which models it serves."""

    id: str
    api_format: str
    base_url: str
    models: list[str]
    prefix: str | None
    api_key_masked: str
    created_at: datetime
    updated_at: datetime

    def serves(self, name: str) -> str | None:
        """The upstream model name when `name` (as a client sends it) routes here."""
        prefix = self.prefix or ""
        if not name.startswith(prefix):
            return None
        bare = name[len(prefix) :]
        return bare if bare in self.models else None


class ApiModelFields(msgspec.Struct, frozen=True, kw_only=True):
    """What a create or update sets, validated."""

    api_format: str
    base_url: str
    models: list[str]
    prefix: str | None


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """Where one proxied request goes: the base URL, the key (None: none sent), the body."""

    base_url: str
    api_key: str | None
    body: bytes
    provider: str  # the API model id, or "local"


def mask(key: str) -> str:
    """The masked form shown for a key: enough to recognise it, never enough to use it."""
    if len(key) < 12:
        return "***"
    return f"{key[:3]}...{key[-4:]}"


class Start(msgspec.Struct, frozen=True, kw_only=True):
    """The start of a proxied response: status, relayed headers, time the upstream took."""

    status: int
    headers: list[tuple[str, str]]
    upstream_ms: float


API_FORMATS = ("openai",)
MAX_MODELS = 500


def checked_fields(
    api_format: str, base_url: str, models: list[str], prefix: str | None
) -> ApiModelFields:
    """Validated API model settings (reference §1.6), or InvalidArgument naming the field."""
    if api_format not in API_FORMATS:
        raise InvalidArgument(
            f"api_format must be one of {', '.join(API_FORMATS)}", code="invalid_api_format",
            param="api_format",
        )  # fmt: skip
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
    ):
        raise InvalidArgument(
            "base_url must be an http(s) URL without credentials", code="invalid_base_url",
            param="base_url",
        )  # fmt: skip
    names = [m.strip() for m in models]
    if not names or len(names) > MAX_MODELS or any(not m or len(m) > 256 for m in names):
        raise InvalidArgument(
            f"models must list 1 to {MAX_MODELS} non-empty names", code="invalid_models",
            param="models",
        )  # fmt: skip
    return ApiModelFields(
        api_format=api_format, base_url=url, models=list(dict.fromkeys(names)),
        prefix=prefix.strip() or None if prefix else None,
    )  # fmt: skip
