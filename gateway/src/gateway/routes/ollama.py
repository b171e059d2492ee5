"""The Ollama-compatible API (reference §8.5, quirks fixed): tags, show and chat behave like a
real Ollama server — newline-delimited JSON streams, errors with real HTTP statuses and
`{"error": "..."}` bodies — routed through the same proxy as the OpenAI API."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import JSONBody
from litestar.response import Stream

from bodhi_common.errors import Internal, NotFound, ServiceError
from gateway import ollama
from gateway.clients import Backends
from gateway.errors import INTERNAL_ERROR, http_error, localized, retry_after, status_of
from gateway.guards import USER_API, Guard
from gateway.hostile import ANY_CONTENT_TYPE
from gateway.identity import AuthContext
from gateway.relay import guarded, join, unless_gone
from gateway.schemas.models import ModelAliasOut, UserAliasOut

READ = [Guard(USER_API)]
TAGS = ["ollama"]
NDJSON = "application/x-ndjson"
_DETAILS = {
    "parent_model": "", "format": "gguf", "family": "unknown", "families": None,
    "parameter_size": "", "quantization_level": "",
}  # fmt: skip


class ShowRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Which model to show (Ollama clients send `model`; older ones `name`)."""

    model: str | None = None
    name: str | None = None


def _tag(alias: UserAliasOut | ModelAliasOut, created: datetime) -> dict[str, Any]:
    stamp = created.isoformat().replace("+00:00", "Z")
    return {
        "name": alias.alias, "model": alias.alias, "modified_at": stamp, "size": 0,
        "digest": alias.snapshot, "details": _DETAILS,
    }  # fmt: skip


def _parameters(alias: UserAliasOut | ModelAliasOut) -> str:
    if not isinstance(alias, UserAliasOut):
        return ""
    lines = [f"{k} {msgspec.json.encode(v).decode()}" for k, v in alias.request_params.items()]
    return "\n".join([*lines, *(f"context {c}" for c in alias.context_params)])


@get("/tags", guards=READ)
async def tags(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> dict[str, Any]:
    """Local models (user and derived aliases), as `ollama list` shows them."""
    found = await backends.model.all_aliases(ctx)
    return {"models": [_tag(alias, created) for alias, created in found]}


@post("/show", guards=READ, status_code=200)
async def show(
    data: JSONBody[ShowRequest], ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> dict[str, Any]:  # fmt: skip
    """A local model's details."""
    name = data.model or data.name or ""
    for alias, created in await backends.model.all_aliases(ctx):
        if alias.alias == name:
            return {
                "details": _DETAILS, "license": "", "model_info": {}, "modelfile": "",
                "modified_at": _tag(alias, created)["modified_at"],
                "parameters": _parameters(alias), "template": "", "capabilities": ["completion"],
            }  # fmt: skip
    raise NotFound(f"model '{name}' not found", code="model_not_found", param="model")


@post("/chat", guards=READ, status_code=200)
async def chat(
    request: Request[Any, Any, Any], ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> Response[Any]:  # fmt: skip
    """A chat turn: newline-delimited JSON while streaming, one JSON object otherwise."""
    started = time.perf_counter_ns()
    asked = ollama.decode_chat(await request.body())
    return await unless_gone(request, _answer(ctx, backends, asked, started))


async def _answer(
    ctx: AuthContext, backends: Backends, asked: ollama.ChatRequest, started: int
) -> Response[Any]:
    body = ollama.to_openai(asked)
    if asked.stream:
        upstream, chunks = await backends.aiproxy.chat(ctx, asked.model, body)
        if upstream.status < 400:
            lines = ollama.ndjson_stream(asked.model, chunks, started, time.perf_counter_ns)
            return Stream(guarded(lines, ollama.error_line), media_type=NDJSON)
        answer = await join(chunks)
    else:
        upstream, answer = await backends.aiproxy.complete(ctx, asked.model, body)
    if upstream.status >= 400:
        return _error(upstream.status, ollama.error_text(answer))
    try:
        reply = ollama.from_openai(
            asked.model, msgspec.json.decode(answer), time.perf_counter_ns() - started
        )
    except (ValueError, msgspec.DecodeError):
        raise Internal(
            "the model server's answer could not be read", code="upstream_answer_unreadable"
        ) from None
    return Response(reply)


def _error(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Response[Any]:
    """Ollama's error shape; our stable code rides beside it (Ollama clients read `error`)."""
    body = {"error": message} if code is None else {"error": message, "code": code}
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    """The status the OpenAI routes would give, in Ollama's body shape (message localized)."""
    status = status_of(exc)
    if status == 500:
        message, _ = localized(request, INTERNAL_ERROR, "internal error, try again later")
        return _error(500, message, INTERNAL_ERROR)
    message = localized(request, exc.code, exc.message, exc.param)[0]
    return _error(status, message, exc.code, retry_after(exc))


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """The envelope's (already localized) message and code, in Ollama's body shape."""
    enveloped = http_error(request, exc)
    error = getattr(enveloped.content, "error", None)
    message = getattr(error, "message", "invalid request")
    return _error(enveloped.status_code or 400, message, getattr(error, "code", None))


def router(ai_body_bytes: int) -> Router:
    """The /api routes; chat takes bodies up to `ai_body_bytes`. Ollama's clients (and curl -d)
    do not all say their body is JSON, so these routes do not ask."""
    chat_router = Router("/", route_handlers=[chat], request_max_body_size=ai_body_bytes)
    return Router(
        "/api", route_handlers=[tags, show, chat_router], tags=TAGS,
        exception_handlers={ServiceError: _service_error, HTTPException: _http_error},
        opt={ANY_CONTENT_TYPE: True},
    )  # fmt: skip
