"""The OpenAI-compatible API (reference §1.3, §8): model listing, chat completions and
embeddings, proxied by aiproxy-svc to the provider or the local backend. Bodies are forwarded as
sent; only "model" and "stream" are read here."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from bodhi_common.errors import InvalidArgument, NotFound, Unavailable
from gateway.clients import Backends
from gateway.guards import USER_API, Guard
from gateway.hostile import not_json
from gateway.identity import AuthContext
from gateway.relay import relayed, unless_gone, whole
from gateway.schemas.ai import OpenAIModel, OpenAIModelList

READ = [Guard(USER_API)]
TAGS = ["openai"]


class Head(msgspec.Struct, frozen=True):
    """The two fields of a request body the gateway reads; the rest travels untouched."""

    model: str
    stream: bool | None = None


def head_of(body: bytes) -> Head:
    """The model and stream flag of a request body, or a clear 400."""
    try:
        return msgspec.json.decode(body, type=Head)
    except msgspec.ValidationError as err:
        raise InvalidArgument(
            f"invalid request body: {err}", code="invalid_request", param="model"
        ) from None
    except msgspec.DecodeError:
        raise InvalidArgument("the request body is not valid JSON", code="invalid_json") from None
    except (UnicodeDecodeError, RecursionError) as err:
        raise not_json(err) from None


# Set on a model list that lacks the local aliases because model-svc could not be asked (the
# API models, which route without it, are still listed).
INCOMPLETE_HEADER = "x-bodhi-models-incomplete"


@get("/v1/models", tags=TAGS, guards=READ)
async def models(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> Response[OpenAIModelList]:
    """Every model name a client can send: user and model aliases, then API models (prefix
    included, so every listed id routes). While model-svc is unavailable, the API models alone,
    with the header `x-bodhi-models-incomplete: local`."""
    catalog = await backends.aiproxy.models(ctx)
    data = [OpenAIModel(id=e.id, created=e.created, owned_by=e.owned_by) for e in catalog.entries]
    headers = {INCOMPLETE_HEADER: "local"} if catalog.local_unavailable else None
    return Response(OpenAIModelList(data=data), headers=headers)


@get("/v1/models/{model_id:path}", tags=TAGS, guards=READ)
async def model(
    model_id: FromPath[str], ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> OpenAIModel:
    """One model by its id (ids may contain '/')."""
    name = model_id.lstrip("/")
    catalog = await backends.aiproxy.models(ctx)
    for e in catalog.entries:
        if e.id == name:
            return OpenAIModel(id=e.id, created=e.created, owned_by=e.owned_by)
    if catalog.local_unavailable:  # it may be a local alias: not known to be missing
        raise Unavailable(
            "the model service is unavailable, try again shortly", code="service_unavailable"
        )
    raise NotFound(f"model {name!r} not found", code="model_not_found", param="model")


async def _proxied(request: Request[Any, Any, Any], *, chat: bool) -> Response[Any]:
    # The hot path takes its wiring from the app state: resolving two injected dependencies
    # costs Litestar a task group per request (~5 % of the gateway's CPU here).
    started = time.perf_counter()
    state = request.app.state
    ctx: AuthContext = await state.authenticator.context(request)  # the guard's, cached
    backends: Backends = state.backends
    body = await request.body()
    head = head_of(body)

    async def answer() -> Response[Any]:
        if chat and not head.stream:
            return whole(*await backends.aiproxy.complete(ctx, head.model, body), started)
        if chat:
            upstream, chunks = await backends.aiproxy.chat(ctx, head.model, body)
        else:
            upstream, chunks = await backends.aiproxy.embeddings(ctx, head.model, body)
        return await relayed(upstream, chunks, started)

    return await unless_gone(request, answer())


@post("/v1/chat/completions", tags=TAGS, guards=READ)
async def chat_completions(request: Request[Any, Any, Any]) -> Response[Any]:
    """The upstream's answer: JSON, or `text/event-stream` relayed as it arrives."""
    return await _proxied(request, chat=True)


@post("/v1/embeddings", tags=TAGS, guards=READ)
async def embeddings(request: Request[Any, Any, Any]) -> Response[Any]:
    """The upstream's answer."""
    return await _proxied(request, chat=False)


ROUTES: list[Any] = [models, model]
PROXIED: list[Any] = [chat_completions, embeddings]  # app.py gives them the larger body limit
