"""Control-plane calls to a provider: a short test prompt and its model list (reference §6.2,
§6.3). A key given by id is only ever sent to that API model's stored base URL."""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxy_svc.domain import Target
from aiproxy_svc.registry import ApiModels
from aiproxy_svc.upstream import Upstream
from bodhi_common.errors import (
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ServiceError,
    Unauthenticated,
    Unavailable,
)

MAX_PROMPT_BYTES = 30


class Providers:
    """Tests and lists providers, with a given key or an API model's stored one."""

    def __init__(self, api_models: ApiModels, upstream: Upstream) -> None:
        self._api = api_models
        self._upstream = upstream

    async def target(self, model_id: str | None, api_key: str | None, base_url: str) -> Target:
        """The stored model's base URL and key when an id is given, else the given pair."""
        if model_id:
            model = await self._api.get(model_id)
            key = await self._api.key(model.id)
            return Target(base_url=model.base_url, api_key=key, body=b"", provider=model.id)
        if not api_key:
            raise InvalidArgument(
                "either api_key or id must be provided", code="api_key_or_id_required",
                param="api_key",
            )  # fmt: skip
        return Target(base_url=base_url, api_key=api_key, body=b"", provider="test")

    async def test_prompt(self, target: Target, model: str, prompt: str) -> tuple[bool, str]:
        """(success, reply or what went wrong): a provider failure is an answer, not an error."""
        size = len(prompt.encode())
        if not 0 < size <= MAX_PROMPT_BYTES:
            raise InvalidArgument(
                f"the prompt must be 1 to {MAX_PROMPT_BYTES} bytes, not {size}",
                code="prompt_too_long" if size else "prompt_empty", param="prompt",
            )  # fmt: skip
        body = {
            "model": model, "messages": [{"role": "user", "content": prompt}],
            "max_tokens": 50, "temperature": 0.7,
        }  # fmt: skip
        request = msgspec.structs.replace(target, body=msgspec.json.encode(body))
        try:
            status, reply, raw = await self._upstream.post_json(request, "/chat/completions")
            _check(status, raw, target.api_key)
        except ServiceError as err:
            return False, err.message
        return True, _content(reply)

    async def models(self, target: Target) -> list[str]:
        """The model ids the provider lists."""
        status, reply, raw = await self._upstream.get_json(target, "/models")
        _check(status, raw, target.api_key)
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list):
            return []
        return [d["id"] for d in data if isinstance(d, dict) and isinstance(d.get("id"), str)]


def _check(status: int, raw: bytes, key: str | None) -> None:
    if status < 300:
        return
    detail = _detail(raw)
    if key:  # a provider may quote the key it refused
        detail = detail.replace(key, "***")
    if status in (401, 403):
        raise Unauthenticated(
            f"the provider refused the API key: {detail}", code="provider_unauthorized"
        )
    if status == 404:
        raise NotFound(f"the provider answered not found: {detail}", code="provider_not_found")
    if status == 429:
        raise ResourceExhausted(
            f"the provider is rate limiting: {detail}", code="provider_rate_limited"
        )
    raise Unavailable(f"the provider answered {status}: {detail}", code="provider_error")


def _detail(raw: bytes) -> str:
    """The provider's own error message, short; its text, not ours, so keep it bounded."""
    try:
        value: Any = msgspec.json.decode(raw)
        message = (
            value["error"]["message"]
            if isinstance(value.get("error"), dict)
            else value.get("error")
        )
    except (msgspec.DecodeError, AttributeError, KeyError, TypeError):
        message = raw.decode(errors="replace")
    return str(message or "no detail")[:200]


def _content(reply: Any) -> str:
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return "No response"
    return content if isinstance(content, str) else "No response"
