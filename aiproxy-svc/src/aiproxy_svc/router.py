"""Which upstream a model name goes to, and the body it is sent.

An API model (its prefix stripped from "model") wins first, from the warm in-memory table; any
other name is asked of model-svc as a user or derived alias and goes to the configured local
OpenAI-compatible backend, with the user alias's request parameters filling only what the client
left unset. The body is otherwise forwarded as sent: unknown fields (top_k, ...) survive.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxy_svc.domain import Target
from aiproxy_svc.local import LocalModels
from aiproxy_svc.registry import ApiModels
from bodhi.model.v1 import model_pb2 as pb
from bodhi_common.errors import InvalidArgument, NotFound, Unavailable

LOCAL = "local"
# Alias parameters applied as defaults (reference §8.2); max_tokens is sent as
# max_completion_tokens, and neither is set when the client sent either.
_DEFAULTS = ("frequency_penalty", "presence_penalty", "seed", "temperature", "top_p", "user")


class Router:
    """Routes chat and embeddings requests; see the module docstring."""

    def __init__(self, api_models: ApiModels, local: LocalModels, backend_url: str | None) -> None:
        self._api = api_models
        self._local = local
        self._backend: str | None = None
        self.use_backend(backend_url)

    def use_backend(self, url: str | None) -> None:
        """Send local models to `url` from now on (BODHI_LLM_BACKEND_URL, editable live)."""
        self._backend = url.rstrip("/") if url else None

    async def target(self, name: str, body: bytes, *, chat: bool) -> Target:
        """Where `body` (a request for model `name`) goes; NotFound for an unknown model."""
        routed = await self._api.route(name)
        if routed is not None:
            model, upstream = routed
            if upstream != name:
                body = _with(body, {"model": upstream})
            key = await self._api.key(model.id)
            return Target(base_url=model.base_url, api_key=key, body=body, provider=model.id)
        resolved = await self._local.resolve(name)
        if resolved is None:
            raise NotFound(
                f"model {name!r} is not served here: see GET /v1/models",
                code="model_not_found",
                param="model",
            )
        if self._backend is None:
            raise Unavailable(
                f"no local model server is configured to run {name!r} (set BODHI_LLM_BACKEND_URL)",
                code="local_backend_not_configured",
            )
        if chat and resolved.source == pb.ALIAS_SOURCE_USER:
            body = _with_defaults(body, resolved.request_params)
        return Target(base_url=self._backend, api_key=None, body=body, provider=LOCAL)


def decode_object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or InvalidArgument."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise InvalidArgument("the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(value, dict):
        raise InvalidArgument("the request body must be a JSON object", code="invalid_json")
    return value


def _with(body: bytes, changes: dict[str, Any]) -> bytes:
    value = decode_object(body)
    value.update(changes)
    return msgspec.json.encode(value)


def _with_defaults(body: bytes, params: pb.RequestParams) -> bytes:
    value = decode_object(body)
    before = len(value)
    for field in _DEFAULTS:
        if field not in value and params.HasField(field):  # type: ignore[arg-type]
            value[field] = getattr(params, field)
    if params.HasField("max_tokens") and not {"max_tokens", "max_completion_tokens"} & value.keys():
        value["max_completion_tokens"] = params.max_tokens
    if params.stop and "stop" not in value:
        value["stop"] = list(params.stop)
    return body if len(value) == before else msgspec.json.encode(value)
